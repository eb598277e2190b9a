/* s3: the S3 backend of objstore (objstore.h): requests signed by libcurl
 * (CURLOPT_AWS_SIGV4) with x-amz-content-sha256 set by us, canonical
 * query strings, Content-MD5 on every upload, multipart uploads with
 * parallel parts, ListObjectsV2 paging, DeleteObjects, CopyObject. */
#ifndef SNAP_S3_H
#define SNAP_S3_H

#include "objstore_impl.h"

#endif
