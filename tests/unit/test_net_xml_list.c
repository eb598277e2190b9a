/* test_net_xml_list: listing pages and error documents as the real
 * servers send them (captured from s3rver, Swift and Azurite). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "xml_list.h"

struct seen {
	int n;
	char keys[8][64];
	unsigned long long sizes[8];
	char etags[8][64];
	char md5s[8][64];
	char mtimes[8][80];
	int stop_at;
};

static int cb(void *arg, const struct xml_list_entry *e)
{
	struct seen *s = arg;

	if (s->n < 8) {
		snprintf(s->keys[s->n], 64, "%.*s", (int)e->key_len, e->key);
		s->sizes[s->n] = e->size;
		snprintf(s->etags[s->n], 64, "%s", e->etag);
		snprintf(s->md5s[s->n], 64, "%s", e->content_md5);
		snprintf(s->mtimes[s->n], 80, "%s", e->meta_mtime);
	}
	s->n++;
	if (s->stop_at && s->n == s->stop_at)
		return 1;
	return 0;
}

static const char s3_page[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	"<Name>heap</Name><Prefix>ab/</Prefix><KeyCount>2</KeyCount>"
	"<MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>"
	"<Contents><Key>ab/obj1</Key><LastModified>2026-11-26T10:36:25.000Z"
	"</LastModified><ETag>&quot;5a856ca34c02f41a3fafd8de56b46833&quot;"
	"</ETag><Size>11</Size><StorageClass>STANDARD</StorageClass></Contents>"
	"<Contents><Key>ab/a &amp; b</Key><LastModified>2026-11-26T10:36:26.000Z"
	"</LastModified><ETag>\"x\"</ETag><Size>0</Size></Contents>"
	"<NextContinuationToken>YWIvb2JqMQ==</NextContinuationToken>"
	"</ListBucketResult>";

static const char az_page[] =
	"<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults "
	"ServiceEndpoint=\"http://127.0.0.1:10000/devstoreaccount1\" "
	"ContainerName=\"heap\"><Prefix>ab/</Prefix><MaxResults>2</MaxResults>"
	"<Blobs><Blob><Name>ab/1</Name><Properties><Creation-Time>Thu, 26 Nov "
	"2026 10:36:25 GMT</Creation-Time><Last-Modified>Thu, 26 Nov 2026 "
	"10:36:25 GMT</Last-Modified><Etag>0x1DCB6A3A4D2B2C0</Etag>"
	"<Content-Length>11</Content-Length><Content-Type>application/"
	"octet-stream</Content-Type><Content-MD5>WoVso0wC9Bo/r9jeVrRoMw=="
	"</Content-MD5><BlobType>BlockBlob</BlobType></Properties><Metadata>"
	"<MTime>2026-12-05T12:00:00.649778886Z</MTime><other>x</other>"
	"</Metadata></Blob>"
	"<Blob><Name>ab/2</Name><Properties><Content-Length>3</Content-Length>"
	"</Properties><Metadata><mtime>"
	"0123456789012345678901234567890123456789012345678901234567890123456789"
	"0123456789</mtime></Metadata></Blob></Blobs><NextMarker>MARK2"
	"</NextMarker>"
	"</EnumerationResults>";

static void test_s3(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct xml_list_page page;
	struct seen s;

	memset(&s, 0, sizeof(s));
	CHECK_EQ(xml_list_parse(XML_LIST_S3, s3_page, sizeof(s3_page) - 1, cb,
				&s, &page, &eb), 0);
	CHECK_EQ(s.n, 2);
	CHECK_STREQ(s.keys[0], "ab/obj1");
	CHECK_EQ(s.sizes[0], 11);
	CHECK_STREQ(s.etags[0], "\"5a856ca34c02f41a3fafd8de56b46833\"");
	CHECK_STREQ(s.keys[1], "ab/a & b");
	CHECK(page.truncated);
	CHECK_STREQ(page.next, "YWIvb2JqMQ==");
	CHECK_EQ(page.count, 2);

	/* the callback stops the walk */
	memset(&s, 0, sizeof(s));
	s.stop_at = 1;
	CHECK_EQ(xml_list_parse(XML_LIST_S3, s3_page, sizeof(s3_page) - 1, cb,
				&s, &page, &eb), 1);
	CHECK_EQ(s.n, 1);
}

static void test_azure(void)
{
	struct errbuf eb = ERRBUF_INIT;
	struct xml_list_page page;
	struct seen s;

	memset(&s, 0, sizeof(s));
	CHECK_EQ(xml_list_parse(XML_LIST_AZURE, az_page, sizeof(az_page) - 1,
				cb, &s, &page, &eb), 0);
	CHECK_EQ(s.n, 2);
	CHECK_STREQ(s.keys[0], "ab/1");
	CHECK_EQ(s.sizes[0], 11);
	CHECK_STREQ(s.md5s[0], "WoVso0wC9Bo/r9jeVrRoMw==");
	CHECK_STREQ(s.etags[0], "0x1DCB6A3A4D2B2C0");
	/* Metadata/mtime (any case); an over-long value is dropped */
	CHECK_STREQ(s.mtimes[0], "2026-12-05T12:00:00.649778886Z");
	CHECK_STREQ(s.mtimes[1], "");
	CHECK_STREQ(s.keys[1], "ab/2");
	CHECK_EQ(s.sizes[1], 3);
	CHECK(page.truncated);
	CHECK_STREQ(page.next, "MARK2");

	/* last page: empty NextMarker */
	memset(&s, 0, sizeof(s));
	{
		static const char last[] = "<EnumerationResults><Blobs/>"
					   "<NextMarker/></EnumerationResults>";

		CHECK_EQ(xml_list_parse(XML_LIST_AZURE, last, sizeof(last) - 1,
					cb, &s, &page, &eb), 0);
	}
	CHECK_EQ(s.n, 0);
	CHECK(!page.truncated);
}

static void test_bad(void)
{
	static const char *const bad[] = {
		"<ListBucketResult><Contents><Key>a</Key>",       /* truncated */
		"<ListBucketResult><Contents><Size>1</Size></Contents>"
		"</ListBucketResult>",                            /* no key */
		"<ListBucketResult><Contents><Key>a</Key><Size>-1</Size>"
		"</Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>a</Key><Size>1x</Size>"
		"</Contents></ListBucketResult>",
		"<!DOCTYPE x [<!ENTITY a \"aaaa\">]><ListBucketResult>&a;"
		"</ListBucketResult>",
		"not xml",
	};
	struct errbuf eb;
	struct xml_list_page page;
	struct seen s;
	char deep[2048];
	size_t i, n = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errbuf_clear(&eb);
		memset(&s, 0, sizeof(s));
		CHECK_EQ(xml_list_parse(XML_LIST_S3, bad[i], strlen(bad[i]), cb,
					&s, &page, &eb), -EBADMSG);
		CHECK(strstr(eb.msg, "bad XML") != NULL);
	}
	for (i = 0; i < 40; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "<a>");
	errbuf_clear(&eb);
	CHECK_EQ(xml_list_parse(XML_LIST_S3, deep, n, cb, &s, &page, &eb),
		 -EBADMSG);
	/* a key longer than the text cap */
	{
		static char big[XML_LIST_TEXT_MAX + 200];

		n = (size_t)snprintf(big, sizeof(big),
				     "<ListBucketResult><Contents><Key>");
		memset(big + n, 'k', XML_LIST_TEXT_MAX + 10);
		n += XML_LIST_TEXT_MAX + 10;
		n += (size_t)snprintf(big + n, sizeof(big) - n,
				      "</Key></Contents></ListBucketResult>");
		errbuf_clear(&eb);
		CHECK_EQ(xml_list_parse(XML_LIST_S3, big, n, cb, &s, &page,
					&eb), -EBADMSG);
	}
}

/* captured from Swift 2.30's s3api (max-uploads=1): IsTruncated with
 * empty Next*Marker; an Upload's Initiator/Owner IDs are not its id */
static const char uploads_page[] =
	"<?xml version='1.0' encoding='UTF-8'?>\n"
	"<ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/doc/"
	"2006-03-01/\"><Bucket>cpif</Bucket><KeyMarker></KeyMarker>"
	"<UploadIdMarker></UploadIdMarker><NextKeyMarker></NextKeyMarker>"
	"<NextUploadIdMarker></NextUploadIdMarker><Prefix>heap/</Prefix>"
	"<MaxUploads>1</MaxUploads><IsTruncated>true</IsTruncated><Upload>"
	"<Key>heap/ab/1</Key><UploadId>MTBjNDBiM2QtYmRhMy00MDE0LTkxMGItNWFm"
	"OTZhZTc0NWZm</UploadId><Initiator><ID>test:tester</ID><DisplayName>"
	"test:tester</DisplayName></Initiator><Owner><ID>test:tester</ID>"
	"<DisplayName>test:tester</DisplayName></Owner><StorageClass>STANDARD"
	"</StorageClass><Initiated>2026-12-07T21:33:21.000Z</Initiated>"
	"</Upload></ListMultipartUploadsResult>";

struct seen_upload {
	int n;
	char key[64], id[128], initiated[64];
};

static int upload_cb(void *arg, const struct xml_list_entry *e)
{
	struct seen_upload *s = arg;

	snprintf(s->key, sizeof(s->key), "%.*s", (int)e->key_len, e->key);
	snprintf(s->id, sizeof(s->id), "%s", e->upload_id);
	snprintf(s->initiated, sizeof(s->initiated), "%s", e->last_modified);
	s->n++;
	return 0;
}

static void test_uploads(void)
{
	struct xml_list_page page;
	struct seen_upload s = { 0 };
	struct errbuf eb = ERRBUF_INIT;
	static const char aws[] =
		"<ListMultipartUploadsResult><IsTruncated>true</IsTruncated>"
		"<NextKeyMarker>b/k</NextKeyMarker><NextUploadIdMarker>u-2"
		"</NextUploadIdMarker><Upload><Key>a</Key><UploadId>u-1"
		"</UploadId><Initiated>2026-12-07T21:33:21.000Z</Initiated>"
		"</Upload><Upload><Key>b/k</Key><UploadId>u-2</UploadId>"
		"</Upload></ListMultipartUploadsResult>";
	static const char no_id[] =
		"<ListMultipartUploadsResult><Upload><Key>a</Key>"
		"<Initiated>2026-12-07T21:33:21.000Z</Initiated></Upload>"
		"</ListMultipartUploadsResult>";

	CHECK_EQ(xml_list_parse(XML_LIST_S3_UPLOADS, uploads_page,
				strlen(uploads_page), upload_cb, &s, &page,
				&eb), 0);
	CHECK_EQ(s.n, 1);
	CHECK_STREQ(s.key, "heap/ab/1");
	CHECK_STREQ(s.id, "MTBjNDBiM2QtYmRhMy00MDE0LTkxMGItNWFmOTZhZTc0NWZm");
	CHECK_STREQ(s.initiated, "2026-12-07T21:33:21.000Z");
	CHECK(page.truncated);
	CHECK_STREQ(page.next, "");
	CHECK_STREQ(page.next_upload_id, "");

	memset(&s, 0, sizeof(s));
	CHECK_EQ(xml_list_parse(XML_LIST_S3_UPLOADS, aws, strlen(aws),
				upload_cb, &s, &page, &eb), 0);
	CHECK_EQ(s.n, 2);
	CHECK_STREQ(s.key, "b/k");
	CHECK_STREQ(s.initiated, "");   /* none given: unknown */
	CHECK(page.truncated);
	CHECK_STREQ(page.next, "b/k");
	CHECK_STREQ(page.next_upload_id, "u-2");

	/* an upload without its id cannot be aborted: refused */
	memset(&s, 0, sizeof(s));
	CHECK_EQ(xml_list_parse(XML_LIST_S3_UPLOADS, no_id, strlen(no_id),
				upload_cb, &s, &page, &eb), -EBADMSG);
	CHECK(strstr(eb.msg, "UploadId") != NULL);
	CHECK_EQ(s.n, 0);
}

static void test_value(void)
{
	static const char err[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
		"SignatureDoesNotMatch</Code><Message>The request signature we "
		"calculated does not match</Message><RequestId>tx1</RequestId>"
		"</Error>";
	char out[128];

	CHECK_EQ(xml_value(err, sizeof(err) - 1, "Code", out, sizeof(out)), 1);
	CHECK_STREQ(out, "SignatureDoesNotMatch");
	CHECK_EQ(xml_value(err, sizeof(err) - 1, "Message", out, sizeof(out)), 1);
	CHECK_STREQ(out, "The request signature we calculated does not match");
	CHECK_EQ(xml_value(err, sizeof(err) - 1, "UploadId", out, sizeof(out)), 0);
	CHECK_EQ(xml_value(err, sizeof(err) - 1, "Code", out, 5), -EBADMSG);
	CHECK_EQ(xml_value("<a><b>", 6, "c", out, sizeof(out)), -EBADMSG);
}

int main(void)
{
	RUN_TEST(test_s3);
	RUN_TEST(test_azure);
	RUN_TEST(test_bad);
	RUN_TEST(test_value);
	RUN_TEST(test_uploads);
	return test_finish();
}
