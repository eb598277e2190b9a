#!/usr/bin/env bash
# test_net_config.sh: the ways of configuring s3:// and az:// that the AWS
# CLI / botocore, s3fs, adlfs and the Azure SDK define, each alone (every
# AWS_* and AZURE_* variable unset, HOME a fresh temp dir) against real
# servers on 127.0.0.1: Swift's S3 API (verifies SigV4), s3rver (takes
# anonymous requests, checks only the access key) and Azurite (verifies
# Shared Key and SAS). Each way does make-snapshot + list-snapshots +
# restore-snapshot and the restored tree must match. Where a setting must
# beat another, the loser points at a dead port or holds a wrong secret,
# so a wrong precedence fails the run. Buckets are created beforehand with
# boto3 / azure-storage-blob (Debian's python3-boto3,
# python3-azure-storage), which also list what the tool wrote.
. "$(dirname "$0")/lib.sh"

need_sdks

start_server swift || finish
start_server azurite || finish
start_server s3rver || finish
DEAD=http://127.0.0.1:1   # nothing listens there: a loser's endpoint
SW=$SNAP_SWIFT_ENDPOINT
AZ=$SNAP_AZURITE_ENDPOINT

# clean_env: no AWS_*/AZURE_* variable, an empty HOME
clean_env() {
	local v
	for v in $(compgen -e); do
		case $v in
		AWS_* | AZURE_*) unset "$v" ;;
		esac
	done
	rm -rf "$T/home"
	mkdir -p "$T/home/.aws"
	export HOME=$T/home
}

# client.py: s3 ENDPOINT KEY SECRET mkbucket B | keys B PREFIX | badmd5 B PREFIX;
# az CONNSTR mkcontainer C [public] | sas | keys C PREFIX | badmd5 C PREFIX
# (badmd5: the keys under PREFIX whose body's MD5 is not their name, or
# whose Content-Type is a form's: a small body goes out with the request's
# head, as curl sends a form, without the form's type)
cat >"$T/client.py" <<'EOF'
import hashlib, sys
kind, args = sys.argv[1], sys.argv[2:]
def check_md5(key, body, ctype):
    if hashlib.md5(body).hexdigest() != key.rsplit("/", 1)[-1]:
        print(key)
    if "form" in (ctype or ""):
        print(key, ctype)
if kind == "s3":
    import boto3, botocore.config
    ep, key, secret, cmd = args[:4]
    s3 = boto3.client("s3", endpoint_url=ep, aws_access_key_id=key,
                      aws_secret_access_key=secret, region_name="us-east-1",
                      config=botocore.config.Config(
                          s3={"addressing_style": "path"}))
    if cmd == "mkbucket":
        try:
            s3.create_bucket(Bucket=args[4])
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    elif cmd == "keys":
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=args[4], Prefix=args[5])
        for p in pages:
            for o in p.get("Contents", []):
                print(o["Key"])
    elif cmd == "badmd5":
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=args[4], Prefix=args[5])
        for p in pages:
            for o in p.get("Contents", []):
                got = s3.get_object(Bucket=args[4], Key=o["Key"])
                check_md5(o["Key"], got["Body"].read(), got["ContentType"])
else:
    import datetime
    from azure.storage.blob import (BlobServiceClient, generate_account_sas,
                                    ResourceTypes, AccountSasPermissions)
    cs, cmd = args[:2]
    svc = BlobServiceClient.from_connection_string(cs)
    if cmd == "mkcontainer":
        c = svc.get_container_client(args[2])
        if len(args) > 3:
            c.create_container(public_access=args[3])
        else:
            c.create_container()
    elif cmd == "sas":
        print(generate_account_sas(
            svc.account_name, svc.credential.account_key,
            ResourceTypes(service=True, container=True, object=True),
            AccountSasPermissions(read=True, write=True, delete=True,
                                  list=True, add=True, create=True),
            datetime.datetime.utcnow() + datetime.timedelta(hours=2)))
    elif cmd == "keys":
        for b in svc.get_container_client(args[2]).list_blobs(
                name_starts_with=args[3]):
            print(b.name)
    elif cmd == "badmd5":
        c = svc.get_container_client(args[2])
        for b in c.list_blobs(name_starts_with=args[3]):
            got = c.download_blob(b.name)
            check_md5(b.name, got.readall(),
                      got.properties.content_settings.content_type)
EOF
s3c() { "$PY" "$T/client.py" s3 "$SW" "$SNAP_SWIFT_KEY" "$SNAP_SWIFT_SECRET" "$@"; }
azc() { "$PY" "$T/client.py" az "$SNAP_AZURITE_CONNECTION_STRING" "$@"; }
# bucket names of this run only: the servers may be shared and long-lived
NB=netconf-$$ AB=netanon-$$ PB=netpub-$$
s3c mkbucket $NB || die "cannot create the Swift bucket"
"$PY" "$T/client.py" s3 "$SNAP_S3RVER_ENDPOINT" "$SNAP_S3RVER_KEY" \
	"$SNAP_S3RVER_SECRET" mkbucket $AB || die "cannot create the s3rver bucket"
azc mkcontainer $NB || die "cannot create the Azurite container"
azc mkcontainer $PB container || die "cannot create the public container"
SAS=$(azc sas) || die "cannot make a SAS"

SRC=$T/src
mkdir -p "$SRC/d"
printf 'alpha\n' >"$SRC/a.txt"
printf 'beta\n' >"$SRC/d/b.txt"
head -c 100000 /dev/urandom >"$SRC/d/r.bin"

OPTS=
tool() { # command [args]: the roots of $URL, storage options $OPTS
	local o=()
	[ -n "$OPTS" ] && o=(--heap-storage-options "$OPTS"
		--snap-storage-options "$OPTS")
	run "$SNAPSHOOTER" --no-progress --file-root "$FR" --heap-root "$URL/heap" \
		--snap-root "$URL/snaps" "${o[@]}" "$@"
}

# round_trip LABEL URL: make-snapshot, list-snapshots, restore (the current
# environment and $OPTS configure the store)
round_trip() {
	local label=$1 snap
	URL=$2
	FR=$SRC
	tool make-snapshot
	assert_rc "$label: make-snapshot" 0
	snap=$(head -n 1 "$OUT")
	tool list-snapshots
	assert_rc "$label: list-snapshots" 0
	assert_eq "$label: list-snapshots names the snapshot" "$snap" \
		"$(head -n 1 "$OUT")"
	FR=$T/back.$label
	tool restore-snapshot
	assert_rc "$label: restore-snapshot" 0
	check "$label: restored tree is identical" diff -r "$SRC" "$FR"
}

# --- S3, Swift (SigV4 verified) ------------------------------------------
say "== ~/.aws/credentials + ~/.aws/config [default], endpoint_url in the profile"
clean_env
cat >"$HOME/.aws/credentials" <<EOF
# default profile
[default]
aws_access_key_id = $SNAP_SWIFT_KEY
aws_secret_access_key = $SNAP_SWIFT_SECRET
EOF
printf '[default]\r\nregion = us-east-1\r\nendpoint_url = %s\r\n' "$SW" \
	>"$HOME/.aws/config"   # CRLF line ends, as Windows editors write
round_trip files s3://$NB/files
n=$(s3c keys $NB files/heap/ | wc -l)
assert_eq "files: boto3 lists the 3 heap objects" 3 "$n"
assert_eq "files: boto3 reads each heap object as its name's MD5" "" \
	"$(s3c badmd5 $NB files/heap/ 2>&1)"

say "== AWS_PROFILE: [profile dev], endpoint in its s3 block beats its endpoint_url"
clean_env
cat >"$HOME/.aws/credentials" <<EOF
[default]
aws_access_key_id = $SNAP_SWIFT_KEY
aws_secret_access_key = wrong-secret
[dev]
aws_access_key_id = $SNAP_SWIFT_KEY
aws_secret_access_key = $SNAP_SWIFT_SECRET
EOF
cat >"$HOME/.aws/config" <<EOF
[default]
endpoint_url = $DEAD
[profile dev]
region = us-east-1
endpoint_url = $DEAD
s3 =
  addressing_style = path
  endpoint_url = $SW
EOF
export AWS_PROFILE=dev
round_trip profile s3://$NB/profile

say "== AWS_DEFAULT_PROFILE and a [services] section"
clean_env
cat >"$HOME/.aws/config" <<EOF
[profile svc]
aws_access_key_id = $SNAP_SWIFT_KEY
aws_secret_access_key = $SNAP_SWIFT_SECRET
endpoint_url = $DEAD
services = local-swift
[services local-swift]
s3 =
  endpoint_url = $SW
EOF
export AWS_DEFAULT_PROFILE=svc
round_trip services s3://$NB/services

say "== AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE beat ~/.aws"
clean_env
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = wrong\n' \
	"$SNAP_SWIFT_KEY" >"$HOME/.aws/credentials"
printf '[default]\nendpoint_url = %s\n' "$DEAD" >"$HOME/.aws/config"
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
	"$SNAP_SWIFT_KEY" "$SNAP_SWIFT_SECRET" >"$T/creds.ini"
printf '[default]\nendpoint_url = %s\n' "$SW" >"$T/config.ini"
export AWS_SHARED_CREDENTIALS_FILE=$T/creds.ini AWS_CONFIG_FILE=$T/config.ini
round_trip envfiles s3://$NB/envfiles

say "== AWS_ENDPOINT_URL_S3 beats AWS_ENDPOINT_URL"
clean_env
export AWS_ENDPOINT_URL=$DEAD AWS_ENDPOINT_URL_S3=$SW \
	AWS_ACCESS_KEY_ID=$SNAP_SWIFT_KEY AWS_SECRET_ACCESS_KEY=$SNAP_SWIFT_SECRET
round_trip envs3 s3://$NB/envs3

say "== s3fs storage options: client_kwargs, config_kwargs, an option we do not use"
clean_env
OPTS='{"key": "'$SNAP_SWIFT_KEY'", "secret": "'$SNAP_SWIFT_SECRET'",
 "client_kwargs": {"endpoint_url": "'$SW'", "region_name": "us-east-1"},
 "config_kwargs": {"s3": {"addressing_style": "path"}},
 "default_block_size": 5242880}'
round_trip s3fs s3://$NB/s3fs
assert_err_has "s3fs: an unused option is named in a warning" \
	"storage option 'default_block_size' for s3:// is not used"

say "== s3fs option profile: drops the env credentials (as botocore)"
clean_env
printf '[dev]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
	"$SNAP_SWIFT_KEY" "$SNAP_SWIFT_SECRET" >"$HOME/.aws/credentials"
export AWS_ACCESS_KEY_ID=$SNAP_SWIFT_KEY AWS_SECRET_ACCESS_KEY=wrong
OPTS='{"profile": "dev", "endpoint_url": "'$SW'"}'
round_trip s3fsprofile s3://$NB/s3fsprofile
OPTS=

say "== a wrong secret in the profile: Swift refuses the signature"
clean_env
printf '[bad]\naws_access_key_id = %s\naws_secret_access_key = s3cr3t-wrong\n' \
	"$SNAP_SWIFT_KEY" >"$HOME/.aws/credentials"
printf '[profile bad]\nendpoint_url = %s\n' "$SW" >"$HOME/.aws/config"
export AWS_PROFILE=bad
URL=s3://$NB/bad FR=$SRC
tool make-snapshot
assert_rc "bad secret: make-snapshot fails" 1
assert_err_has "bad secret: SigV4 refused" "SignatureDoesNotMatch"
assert_err_has "bad secret: names the bucket" "s3://$NB/bad"
check "bad secret: the secret is not shown" \
	test "$(grep -c s3cr3t-wrong "$ERR")" = 0

say "== a named profile that does not exist"
clean_env
printf '[default]\nregion = us-east-1\n' >"$HOME/.aws/config"
export AWS_PROFILE=ghost
tool list-snapshots
assert_rc "missing profile: refused" 1
assert_err_has "missing profile: names profile and files" \
	"AWS profile 'ghost' not found in '$HOME/.aws/credentials' or '$HOME/.aws/config'"

# --- S3, s3rver: anonymous requests ---------------------------------------
say "== anon: unsigned requests (s3rver serves anonymous clients)"
clean_env
export AWS_ENDPOINT_URL=$SNAP_S3RVER_ENDPOINT \
	AWS_ACCESS_KEY_ID=$SNAP_S3RVER_KEY AWS_SECRET_ACCESS_KEY=$SNAP_S3RVER_SECRET
URL=s3://$AB/a FR=$SRC
tool make-snapshot
assert_rc "anon: make-snapshot with credentials" 0
snap=$(head -n 1 "$OUT")
clean_env
# an access key s3rver does not know: a signed request gets 403
export AWS_ACCESS_KEY_ID=unknown-key AWS_SECRET_ACCESS_KEY=x
OPTS='{"endpoint_url": "'$SNAP_S3RVER_ENDPOINT'"}'
tool list-snapshots
assert_rc "anon: signed with an unknown key fails" 1
assert_err_has "anon: s3rver refused the key" "InvalidAccessKeyId"
OPTS='{"anon": true, "endpoint_url": "'$SNAP_S3RVER_ENDPOINT'"}'
tool list-snapshots
assert_rc "anon: list-snapshots unsigned" 0
assert_eq "anon: lists the snapshot" "$snap" "$(head -n 1 "$OUT")"
FR=$T/back.anon
tool restore-snapshot
assert_rc "anon: restore-snapshot unsigned" 0
check "anon: restored tree is identical" diff -r "$SRC" "$FR"
OPTS=

# --- Azure, Azurite --------------------------------------------------------
say "== connection string with SharedAccessSignature= (no AccountName/Key)"
clean_env
export AZURE_STORAGE_CONNECTION_STRING="BlobEndpoint=$AZ;SharedAccessSignature=$SAS"
round_trip azsas az://$NB/sas
n=$(azc keys $NB sas/heap/ | wc -l)
assert_eq "azsas: azure-storage-blob lists the 3 heap objects" 3 "$n"
assert_eq "azsas: azure-storage-blob reads each heap object as its name's MD5" \
	"" "$(azc badmd5 $NB sas/heap/ 2>&1)"
check "azsas: the SAS is not shown" \
	test "$(grep -cF "${SAS##*sig=}" "$ERR")" = 0

say "== AZURE_STORAGE_ACCOUNT_NAME / _ACCOUNT_KEY (endpoint: option account_host)"
clean_env
export AZURE_STORAGE_ACCOUNT_NAME=$SNAP_AZURITE_ACCOUNT \
	AZURE_STORAGE_ACCOUNT_KEY=$SNAP_AZURITE_KEY
# adlfs builds https://{account_host}; a URL with a scheme reaches
# Azurite's http:// endpoint
OPTS='{"account_host": "'$AZ'"}'
round_trip azenv az://$NB/env

say "== adlfs options account_name, account_key, account_host"
clean_env
OPTS='{"account_name": "'$SNAP_AZURITE_ACCOUNT'", "account_key": "'$SNAP_AZURITE_KEY'", "account_host": "'$AZ'"}'
round_trip azopts az://$NB/opts
# a bare host name means https://HOST, as in adlfs: Azurite speaks http
OPTS='{"account_name": "'$SNAP_AZURITE_ACCOUNT'", "account_key": "'$SNAP_AZURITE_KEY'", "account_host": "'${AZ#http://}'"}'
URL=az://$NB/opts FR=$SRC
tool --retries 0 list-snapshots
assert_rc "account_host without a scheme: fails (https to an http port)" 1
assert_err_has "account_host without a scheme: https:// URL" \
	"https://${AZ#http://}"

say "== anon: a public container (public access 'container')"
clean_env
export AZURE_STORAGE_CONNECTION_STRING=$SNAP_AZURITE_CONNECTION_STRING
OPTS=
URL=az://$PB/p FR=$SRC
tool make-snapshot
assert_rc "az anon: make-snapshot with the key" 0
snap=$(head -n 1 "$OUT")
clean_env
OPTS='{"anon": true, "account_host": "'$AZ'"}'
tool list-snapshots
assert_rc "az anon: list-snapshots unsigned" 0
assert_eq "az anon: lists the snapshot" "$snap" "$(head -n 1 "$OUT")"
FR=$T/back.azanon
# a public container is read-only to anonymous clients: no snapshots
# before/after, and the lock is skipped (with a warning) when refused
tool restore-snapshot --no-save-snapshot-before --no-save-snapshot-after
assert_rc "az anon: restore-snapshot unsigned" 0
assert_err_has "az anon: restored without the refused lock" \
	"restoring without a lock"
check "az anon: restored tree is identical" diff -r "$SRC" "$FR"
URL=az://$NB/opts
tool list-snapshots
assert_rc "az anon: a private container refuses" 1
OPTS=

finish
