#!/bin/bash
# Test releases of the reference app, built on the controller:
#   app.git   a bare repository whose tag v1 is files/app as it is (version 1.0.0)
#   v2.tar.gz the same app as version 2.0.0 (an artifact)
#   v3.tar.gz version 3.0.0 whose server.js throws at start (the crash is in
#             the artifact, not a flag of the role)
#   bad/<case>-<n>.tar.gz, n = 1..3, a fresh artifact per deploy, each a release
#             that dies or sickens seconds after it starts (bad-releases.txt):
#     crash-at-start, crash-after-1.5s, crash-after-8s, health-500-after-3s
#             what the health gate and its soak must refuse, and
#     pm2-crash-after-1.5s, pm2-health-500-after-3s
#             the same only when PM2 runs it (process.env.pm_id is set): the
#             gate cannot see these, so they prove the watch after the switch
#             without depending on timing
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

# bad_release case body: version 9.0.0 with <body> run at the top of server.js
# (SICK_AT: health answers 500 from then on; set by the body when it wants).
bad_release() {
  local dir="$work/bad-$1" n
  make_version "$dir" 9.0.0
  sed -i "1a let SICK_AT = Infinity; $2" "$dir/server.js"
  sed -i "s|^  'GET /api/health': async () => {|&\n    if (Date.now() >= SICK_AT) throw new Error('test release: sick');|" "$dir/server.js"
  grep -q "test release: sick" "$dir/server.js"
  mkdir -p "$out/bad"
  for n in 1 2 3; do
    echo "// $1, artifact $n" >>"$dir/server.js"
    tar -C "$dir" -czf "$out/bad/$1-$n.tar.gz" .
  done
}
exit_after() { echo "setTimeout(() => { console.error('test release: exits now'); process.exit(1); }, $1);"; }
sick_after() { echo "SICK_AT = Date.now() + $1;"; }
under_pm2() { echo "if (process.env.pm_id !== undefined) { $1 }"; }
bad_release crash-at-start "throw new Error('test release: refuses to start');"
bad_release crash-after-1.5s "$(exit_after 1500)"
bad_release crash-after-8s "$(exit_after 8000)"
bad_release health-500-after-3s "$(sick_after 3000)"
bad_release pm2-crash-after-1.5s "$(under_pm2 "$(exit_after 1500)")"
bad_release pm2-health-500-after-3s "$(under_pm2 "$(sick_after 3000)")"

git -C "$work/v1" init -q -b main
git -C "$work/v1" add -A
git -C "$work/v1" -c user.name=test -c user.email=test@example.invalid commit -q -m "v1"
git -C "$work/v1" tag v1
rm -rf "$out/app.git"
git clone -q --bare "$work/v1" "$out/app.git"

tar -C "$work/v2" -czf "$out/v2.tar.gz" .
tar -C "$work/v3" -czf "$out/v3.tar.gz" .
