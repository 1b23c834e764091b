#!/bin/sh
# Generate the ASMX proxy from the served WSDL and compile HisClient.exe (Mono).
#
#   sh build.sh 'http://127.0.0.1:8000/soap?wsdl' [BUILD_DIR]
#   mono BUILD_DIR/HisClient.exe http://127.0.0.1:8000/soap tt_demo demo PASSWORD
#
# Needs Mono's SDK: on Debian/Ubuntu `apt-get install mono-devel` (wsdl, mcs,
# mono). On Windows, .NET Framework's wsdl.exe and csc.exe take the same
# arguments. Nothing generated is committed: the proxy always matches the
# server's WSDL.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: sh build.sh WSDL_URL [BUILD_DIR]" >&2
  exit 2
fi
wsdl_url=$1
here=$(cd "$(dirname "$0")" && pwd)
build=${2:-$here/build}

mkdir -p "$build"
rm -f "$build/TuotempoService.cs" "$build/HisClient.exe"
wsdl -nologo -namespace:Tuotempo.Soap -out:"$build/TuotempoService.cs" "$wsdl_url" >/dev/null
mcs -nologo -warnaserror -out:"$build/HisClient.exe" -r:System.Web.Services -r:System.Xml \
  "$here/HisClient.cs" "$build/TuotempoService.cs"
echo "built $build/HisClient.exe; run: mono $build/HisClient.exe ENDPOINT INSTANCE USERNAME PASSWORD"
