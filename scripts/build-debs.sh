#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the Debian packages of the user-space half (debian/) into
# build/deb: dpkg-buildpackage in a copy of the tree, so that the
# packaging never sees (or cleans) build/.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/deb
version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
src=$out/src/mktme-$version

rm -rf "$out"
mkdir -p "$src"
rsync -a --exclude=/build --exclude=/.git "$top/" "$src/"
(cd "$src" && dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1 ||
	{ tail -30 "$out/build.log" >&2; echo "build-debs: dpkg-buildpackage failed ($out/build.log)" >&2; exit 1; }
mv "$out"/src/*.deb "$out"/src/*.buildinfo "$out"/src/*.changes "$out"/
rm -rf "$out/src"
ls "$out"/*.deb
