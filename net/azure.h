/* azure: the Azure Blob backend of objstore (objstore.h): Shared Key or
 * SAS authorisation (azure_auth.h), Put Blob with Content-MD5, Put Block +
 * Put Block List (x-ms-blob-content-md5) above the multipart threshold,
 * List Blobs with markers, Get Blob Properties, ranged Get Blob, Delete
 * Blob, Copy Blob (waiting for a pending copy). */
#ifndef SNAP_AZURE_H
#define SNAP_AZURE_H

#include "objstore_impl.h"

/* Keys accepted in the storage options JSON. */
extern const char *const azure_option_keys[];

/* Storage API version sent as x-ms-version (Azure and Azurite 3.37). */
#define AZURE_API_VERSION "2025-11-05"

#endif
