/* http_status: CURLcode / HTTP status / store error code -> -errno. */
#include "http_status.h"

#include <errno.h>
#include <string.h>

#include "banned.h"

static int curl_errno(CURLcode cc, bool *retryable)
{
	switch (cc) {
	case CURLE_OK:
		return 0;
	case CURLE_COULDNT_CONNECT:
		*retryable = true;
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		*retryable = true;
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		*retryable = true;
		return -ETIMEDOUT;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		*retryable = true;
		return -ECONNRESET;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_FUNCTION_ARGUMENT:
		return -EINVAL;
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	case CURLE_FILESIZE_EXCEEDED:
		return -EFBIG;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
		return -EPROTO;
	case CURLE_LOGIN_DENIED:
		return -EACCES;
	default:
		return -EIO;
	}
}

static bool code_is(const char *code, const char *what)
{
	return code && !strcmp(code, what);
}

int http_status_errno(CURLcode cc, long status, const char *store_code,
		      bool *retryable)
{
	bool dummy;

	if (!retryable)
		retryable = &dummy;
	*retryable = false;
	if (cc != CURLE_OK)
		return curl_errno(cc, retryable);
	if (status >= 200 && status < 300)
		return 0;
	if (code_is(store_code, "SlowDown") ||
	    code_is(store_code, "ServerBusy") ||
	    code_is(store_code, "OperationTimedOut") ||
	    code_is(store_code, "InternalError") ||
	    code_is(store_code, "RequestTimeout")) {
		*retryable = true;
		return -EAGAIN;
	}
	if (code_is(store_code, "BadDigest") ||
	    code_is(store_code, "InvalidDigest") ||
	    code_is(store_code, "Md5Mismatch") ||
	    code_is(store_code, "XAmzContentSHA256Mismatch"))
		return -EBADMSG;
	switch (status) {
	case 0:
		*retryable = true;
		return -ECONNRESET;   /* no status line at all */
	case 304:
	case 412:
		return -EEXIST;       /* precondition (If-None-Match) */
	case 400:
		return -EINVAL;
	case 401:
	case 403:
		return -EACCES;
	case 404:
	case 410:
		return -ENOENT;
	case 405:
	case 501:
		return -EOPNOTSUPP;
	case 408:
		*retryable = true;
		return -ETIMEDOUT;
	case 409:
		return -EEXIST;
	case 411:
	case 413:
		return -EFBIG;
	case 416:
		return -ERANGE;
	case 429:
	case 503:
		*retryable = true;
		return -EAGAIN;
	case 504:
		*retryable = true;
		return -ETIMEDOUT;
	default:
		if (status >= 500) {
			*retryable = true;
			return -EIO;
		}
		return -EPROTO;
	}
}

const char *http_status_reason(long status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 416: return "Range Not Satisfiable";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "";
	}
}
