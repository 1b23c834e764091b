#!/bin/sh
# Generate the JAX-WS client classes from the served WSDL and compile HisClient.
#
#   sh build.sh 'http://127.0.0.1:8000/soap?wsdl' [BUILD_DIR]
#   java -cp BUILD_DIR/classes:/usr/share/java/jaxws-rt.jar HisClient \
#        'http://127.0.0.1:8000/soap?wsdl' tt_demo demo PASSWORD
#
# Needs a JDK (11+) and the JAX-WS RI: on Debian/Ubuntu `apt-get install
# default-jdk-headless jaxws` (wsimport, and the runtime jars in /usr/share/java).
# JAX-WS left the JDK in Java 11, so javac and java need the RI on the class
# path: Debian's jaxws-rt.jar names the other jars in its manifest. Elsewhere,
# set JAXWS_CLASSPATH to the RI's jars (e.g. Maven's com.sun.xml.ws:jaxws-rt).
# Nothing generated is committed: the classes always match the server's WSDL.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: sh build.sh WSDL_URL [BUILD_DIR]" >&2
  exit 2
fi
wsdl=$1
here=$(cd "$(dirname "$0")" && pwd)
build=${2:-$here/build}
classpath=${JAXWS_CLASSPATH:-/usr/share/java/jaxws-rt.jar}

rm -rf "$build/src" "$build/classes"
mkdir -p "$build/src" "$build/classes"
# -Xnocompile: wsimport's own compile step runs without the RI on its class
# path; javac below compiles the generated sources with it.
wsimport -quiet -Xnocompile -encoding UTF-8 -p org.tuotempo.soap \
  -s "$build/src" -d "$build/src" "$wsdl"
# shellcheck disable=SC2046 # generated file names have no blanks
javac -nowarn -encoding UTF-8 -cp "$classpath" -d "$build/classes" \
  $(find "$build/src" -name '*.java') "$here/HisClient.java"
echo "built $build/classes; run: java -cp $build/classes:$classpath HisClient WSDL_URL INSTANCE USERNAME PASSWORD"
