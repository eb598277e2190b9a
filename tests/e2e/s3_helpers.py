# s3_helpers.py: what the e2e tests' boto3 scripts share (import it after
# sys.path.insert(0, os.environ["SNAP_SOURCE_DIR"] + "/tests/e2e")).
# boto3 is Debian's python3-boto3, a client nobody here wrote.
import base64, hashlib, os
import boto3


def client():
    """An S3 client of the AWS_* variables the test exported."""
    return boto3.client(
        "s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1")


def b64md5(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def multipart(s3, bucket, key, body, said):
    """key as a one-part multipart upload of body (its ETag is no MD5),
    with rclone's md5chksum metadata saying the MD5 of said (None: no
    metadata)."""
    meta = {"md5chksum": b64md5(said)} if said is not None else {}
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, Metadata=meta)
    part = s3.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"],
                          PartNumber=1, Body=body)
    s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
