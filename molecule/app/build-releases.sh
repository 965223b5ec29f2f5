#!/bin/bash
# Test releases of the reference app, built on the controller:
#   app.git   a bare repository whose tag v1 is files/app as it is (version 1.0.0)
#   v2.tar.gz the same app as version 2.0.0 (an artifact)
#   v3.tar.gz version 3.0.0 whose server.js throws at start (the crash is in
#             the artifact, not a flag of the role)
set -euo pipefail
src=$1
out=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

make_version() { # dir version
  cp -a "$src/." "$1/"
  rm -rf "$1/node_modules"
  sed -i "s/\"version\": \"[0-9.]*\"/\"version\": \"$2\"/" "$1/package.json"
}

mkdir -p "$work/v1" "$work/v2" "$work/v3"
make_version "$work/v1" 1.0.0
make_version "$work/v2" 2.0.0
make_version "$work/v3" 3.0.0
sed -i "1a throw new Error('v3 refuses to start (test release that crashes on start)');" "$work/v3/server.js"

git -C "$work/v1" init -q -b main
git -C "$work/v1" add -A
git -C "$work/v1" -c user.name=test -c user.email=test@example.invalid commit -q -m "v1"
git -C "$work/v1" tag v1
rm -rf "$out/app.git"
git clone -q --bare "$work/v1" "$out/app.git"

tar -C "$work/v2" -czf "$out/v2.tar.gz" .
tar -C "$work/v3" -czf "$out/v3.tar.gz" .
