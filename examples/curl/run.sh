#!/bin/sh
# Every operation and every fault a request can provoke, with curl and the
# envelope files beside this script, against a running server (a test one:
# the Client.TooManyAttempts case sends wrong passwords on purpose).
#
#   sh run.sh http://127.0.0.1:8000/soap INSTANCE USERNAME PASSWORD [ANSWERS_DIR]
#
# The files hold tt_demo / demo / change-me; the script puts your credentials
# in their place. Each answer is saved as ANSWERS_DIR/<case>.xml (default: a
# new temporary directory) and summed up on one tab-separated line:
#
#   case  HTTP status  RESULT or faultcode  ok | UNEXPECTED (expected ...)
#
# Exits 0 when every answer is the documented one, 1 otherwise.
set -eu

if [ $# -lt 4 ] || [ $# -gt 5 ]; then
  echo "usage: sh run.sh ENDPOINT INSTANCE USERNAME PASSWORD [ANSWERS_DIR]" >&2
  exit 2
fi
endpoint=$1
here=$(cd "$(dirname "$0")" && pwd)
answers=${5:-$(mktemp -d)}
mkdir -p "$answers"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unexpected=0

# A value for an XML element, then for the replacement side of a sed s///.
xml_text() { printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g'; }
sed_text() { printf '%s' "$1" | sed -e 's/[\/&|]/\\&/g'; }
instance=$(sed_text "$(xml_text "$2")")
username=$(sed_text "$(xml_text "$3")")
password=$(sed_text "$(xml_text "$4")")

# An envelope file with the credentials in place of the placeholders.
envelope() {
  sed -e "s|<t:INSTANCE>tt_demo</t:INSTANCE>|<t:INSTANCE>$instance</t:INSTANCE>|" \
      -e "s|<t:USERNAME>demo</t:USERNAME>|<t:USERNAME>$username</t:USERNAME>|" \
      -e "s|<t:PASSWORD>change-me</t:PASSWORD>|<t:PASSWORD>$password</t:PASSWORD>|" "$1"
}

# The text of the first element with this local name in an answer.
first() { grep -o "<[^>/]*$1>[^<]*" "$2" | head -n 1 | sed 's/.*>//'; }

# post CASE BODY_FILE CONTENT_TYPE [curl options...]: POST the file, print the
# HTTP status.
post() {
  name=$1 body=$2 type=$3
  shift 3
  curl -sS -o "$answers/$name.xml" -w '%{http_code}' --max-time 60 \
    -H "Content-Type: $type" "$@" --data-binary "@$body" "$endpoint"
}
xml='text/xml; charset=utf-8'  # what SOAP 1.1 clients send

# report CASE STATUS EXPECTED_STATUS EXPECTED_OUTCOME: the summary line.
report() {
  name=$1 status=$2
  outcome=$(first faultcode "$answers/$name.xml")
  outcome=${outcome:-$(first RESULT "$answers/$name.xml")}
  if [ "$status" = "$3" ] && [ "$outcome" = "$4" ]; then
    printf '%s\t%s\t%s\tok\n' "$name" "$status" "$outcome"
  else
    printf '%s\t%s\t%s\tUNEXPECTED (expected %s %s)\n' "$name" "$status" "$outcome" "$3" "$4"
    unexpected=1
  fi
}

call() {  # call CASE FILE SOAPACTION EXPECTED_STATUS EXPECTED_OUTCOME
  envelope "$here/$2" >"$work/$1.xml"
  report "$1" "$(post "$1" "$work/$1.xml" "$xml" -H "SOAPAction: \"$3\"")" "$4" "$5"
}

# The operations, in the order a HIS uses them.
call updateReservations updateReservations.xml updateReservations 200 PARTIAL
call getReservations getReservations.xml getReservations 200 OK
cursor=$(first NEXT_REQUEST_TIMESTAMP "$answers/getReservations.xml")
call updateReservations-cancel updateReservations-cancel.xml updateReservations 200 OK
# The delta read: the cursor kept from the previous read, passed back unchanged.
envelope "$here/getReservations-delta.xml" \
  | sed "s|<t:LAST_REQUEST_TIMESTAMP>[^<]*<|<t:LAST_REQUEST_TIMESTAMP>$(sed_text "$cursor")<|" \
  >"$work/delta.xml"
report getReservations-delta \
  "$(post getReservations-delta "$work/delta.xml" "$xml" -H 'SOAPAction: "getReservations"')" 200 OK
call updateMessages updateMessages.xml updateMessages 200 PARTIAL
call searchMessages searchMessages.xml searchMessages 200 OK

# The faults. SOAP 1.1 answers a fault with HTTP 500; the HTTP-level
# refusals keep 405 and 415 (WS-I Basic Profile R1114, R1115).
call Client.AuthenticationFailed faults/Client.AuthenticationFailed.xml getReservations \
  500 soap:Client.AuthenticationFailed
call Client.ValidationError faults/Client.ValidationError.xml getReservations \
  500 soap:Client.ValidationError
call Client.MalformedXML faults/Client.MalformedXML.xml getReservations \
  500 soap:Client.MalformedXML
call Client.MalformedXML-DOCTYPE faults/Client.MalformedXML-DOCTYPE.xml getReservations \
  500 soap:Client.MalformedXML
call Client.InvalidEnvelope faults/Client.InvalidEnvelope.xml getReservations \
  500 soap:Client.InvalidEnvelope
call Client.ResourceNotFound faults/Client.ResourceNotFound.xml deleteReservations \
  500 soap:Client.ResourceNotFound

envelope "$here/faults/VersionMismatch.xml" >"$work/soap12.xml"
report VersionMismatch "$(post VersionMismatch "$work/soap12.xml" \
  'application/soap+xml; charset=utf-8')" 500 soap:VersionMismatch

# A SOAPAction naming another operation than the Body: nothing is run.
envelope "$here/getReservations.xml" >"$work/read.xml"
report Client.SOAPActionMismatch "$(post Client.SOAPActionMismatch "$work/read.xml" "$xml" \
  -H 'SOAPAction: "updateReservations"')" 500 soap:Client.SOAPActionMismatch

# curl --data without a Content-Type sends a form: the commonest curl mistake.
report Client.UnsupportedMediaType "$(post Client.UnsupportedMediaType "$work/read.xml" \
  application/x-www-form-urlencoded)" 415 soap:Client.UnsupportedMediaType

report Client.RequestNotAllowed "$(curl -sS -o "$answers/Client.RequestNotAllowed.xml" \
  -w '%{http_code}' --max-time 60 "$endpoint")" 405 soap:Client.RequestNotAllowed

# 1,001 reservations: one more than a call may carry (TUOTEMPO_MAX_BATCH_ITEMS).
{
  sed -n '1,/<t:RESERVATIONS>/p' "$work/updateReservations.xml"
  i=0
  while [ $i -lt 1001 ]; do
    i=$((i + 1))
    printf '<t:RESERVATION><t:APP_LID>BULK-%d</t:APP_LID><t:APP_DATE>15/03/2027</t:APP_DATE>' $i
    printf '<t:RESOURCE_LID>DR-GARCIA</t:RESOURCE_LID></t:RESERVATION>\n'
  done
  sed -n '/<\/t:RESERVATIONS>/,$p' "$work/updateReservations.xml"
} >"$work/batch.xml"
report Client.BatchTooLarge "$(post Client.BatchTooLarge "$work/batch.xml" "$xml" \
  -H 'SOAPAction: "updateReservations"')" 500 soap:Client.BatchTooLarge

# A body over 8 MiB (TUOTEMPO_MAX_BODY_BYTES) is refused before it is read.
{
  sed -n '1,/<t:NOTES>/p' "$work/updateReservations.xml" | sed '$d'
  printf '<t:NOTES>'
  head -c 9000000 /dev/zero | tr '\0' 'x'
  printf '</t:NOTES>\n'
  sed -n '/<t:NOTES>/,$p' "$work/updateReservations.xml" | sed '1d'
} >"$work/large.xml"
report Client.RequestTooLarge "$(post Client.RequestTooLarge "$work/large.xml" "$xml" \
  -H 'SOAPAction: "updateReservations"')" 500 soap:Client.RequestTooLarge

# Wrong passwords of one user until the throttle answers (each worker process
# counts on its own, so how many it takes depends on how many workers run).
envelope "$here/faults/Client.TooManyAttempts.xml" >"$work/guess.xml"
tries=0
while :; do
  tries=$((tries + 1))
  status=$(post Client.TooManyAttempts "$work/guess.xml" "$xml" -H 'SOAPAction: "getReservations"')
  [ "$(first faultcode "$answers/Client.TooManyAttempts.xml")" = soap:Client.AuthenticationFailed ] \
    && [ $tries -lt 100 ] || break
done
report Client.TooManyAttempts "$status" 500 soap:Client.TooManyAttempts

exit $unexpected
