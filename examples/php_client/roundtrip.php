<?php
// A round trip against tuotempo-soap with PHP's built-in SoapClient (ext-soap).
//
//   php roundtrip.php <wsdl_url> <instance> <username> <password>
//
// 1. updateReservations: two valid appointments and one with an impossible date
// 2. getReservations for the month of those appointments
// 3. getReservations again with LAST_REQUEST_TIMESTAMP = the NEXT_REQUEST_TIMESTAMP
//    of step 2: nothing changed since, so COUNT is 0
// 4. updateMessages: one SMS and one e-mail to an address that cannot be one
// 5. searchMessages by LEGACY_ID: what became of the SMS
// 6. a call with a wrong password, to show how a SOAP fault arrives
//
// Prints one JSON object with what it saw on stdout and exits 0; exits 1 with
// a message on stderr when something unexpected happens.
declare(strict_types=1);

// Warnings go to stderr (never into the JSON on stdout) and count as failures.
ini_set('display_errors', 'stderr');
set_error_handler(static function (int $severity, string $message, string $file, int $line): bool {
    throw new ErrorException($message, 0, $severity, $file, $line);
});

// With SOAP_SINGLE_ELEMENT_ARRAYS a repeated element (maxOccurs="unbounded") is
// always a PHP array, even with one item; an empty container (<RESERVATIONS/>)
// is an object without that property. Absent optional elements are absent
// properties, so read them with ?? null.
function as_list(?object $container, string $name): array
{
    if ($container === null || !isset($container->{$name})) {
        return [];
    }
    $value = $container->{$name};
    return is_array($value) ? $value : [$value];
}

function fields(object $row, array $names): array
{
    $out = [];
    foreach ($names as $name) {
        $out[$name] = $row->{$name} ?? null;
    }
    return $out;
}

// SoapClient posts to the WSDL's soap:address, which the server sets to the URL
// the WSDL was fetched from; this subclass only notes where each call went.
class RecordingSoapClient extends SoapClient
{
    public ?string $lastLocation = null;

    // ...$more: PHP 8.5 added an optional parameter (uriParserClass); pass it on.
    public function __doRequest(
        string $request,
        string $location,
        string $action,
        int $version,
        bool $oneWay = false,
        mixed ...$more,
    ): ?string {
        $this->lastLocation = $location;
        return parent::__doRequest($request, $location, $action, $version, $oneWay, ...$more);
    }
}

// A SoapFault from ext-soap: faultcode is the text the server sent, prefix
// included (soap:Client.AuthenticationFailed); the typed <detail> is decoded
// with the WSDL's ServiceFault type into $fault->detail->ServiceFault.
function fault_of(SoapFault $fault): array
{
    $detail = $fault->detail->ServiceFault ?? null;
    return [
        'faultcode' => $fault->faultcode,
        'faultstring' => $fault->faultstring,
        'CODE' => $detail->CODE ?? null,
        'FIELD' => $detail->FIELD ?? null,
        'MESSAGE' => $detail->MESSAGE ?? null,
    ];
}

function main(string $wsdlUrl, string $instance, string $username, string $password): array
{
    $AUTH = ['INSTANCE' => $instance, 'USERNAME' => $username, 'PASSWORD' => $password];
    $client = new RecordingSoapClient($wsdlUrl, [
        'trace' => 0,
        'exceptions' => true,
        'cache_wsdl' => WSDL_CACHE_NONE,
        'features' => SOAP_SINGLE_ELEMENT_ARRAYS,
    ]);

    // 1. updateReservations: dates dd/mm/yyyy, times hh:mm, phones as the HIS has them.
    $update = $client->updateReservations([
        'AUTH' => $AUTH,
        'RESERVATIONS' => ['RESERVATION' => [
            ['APP_LID' => 'PHP-1001', 'APP_DATE' => '15/03/2027', 'APP_START_TIME' => '09:30',
             'USER_MOBILE_PHONE' => '612345678', 'RESOURCE_LID' => 'DR-GARCIA', 'STATUS' => 'PENDING'],
            ['APP_LID' => 'PHP-1002', 'APP_DATE' => '16/03/2027', 'APP_START_TIME' => '17:15',
             'USER_MOBILE_PHONE' => '+34 622 334 455', 'RESOURCE_LID' => 'DR-GARCIA', 'STATUS' => 'APPROVED'],
            ['APP_LID' => 'PHP-1003', 'APP_DATE' => '31/02/2027', 'APP_START_TIME' => '10:00',
             'USER_MOBILE_PHONE' => '633445566', 'RESOURCE_LID' => 'DR-GARCIA', 'STATUS' => 'PENDING'],
        ]],
    ])->updateReservationsResult;

    // 2. Read the month back.
    $page = $client->getReservations([
        'AUTH' => $AUTH, 'START_DATE' => '01/03/2027', 'END_DATE' => '31/03/2027',
    ])->getReservationsResult;

    // 3. Delta read: only what changed since the previous call.
    $delta = $client->getReservations([
        'AUTH' => $AUTH, 'START_DATE' => '01/03/2027', 'END_DATE' => '31/03/2027',
        'LAST_REQUEST_TIMESTAMP' => $page->NEXT_REQUEST_TIMESTAMP,
    ])->getReservationsResult;

    // 4. updateMessages: accepted messages are queued; the worker sends them.
    $messages = $client->updateMessages([
        'AUTH' => $AUTH,
        'MESSAGES' => ['MESSAGE' => [
            ['LEGACY_ID' => 'PHP-SMS-1', 'CHANNEL' => 'SMS', 'TO' => '612345678',
             'TEXT' => 'Le recordamos su cita de mañana 15/03 a las 09:30. Responda SI o NO.'],
            ['LEGACY_ID' => 'PHP-MAIL-1', 'CHANNEL' => 'EMAIL', 'TO' => 'paciente.example.org',
             'SUBJECT' => 'Su cita', 'TEXT' => 'Le recordamos su cita.'],
        ]],
    ])->updateMessagesResult;

    // 5. What became of the SMS, found by our own id.
    $search = $client->searchMessages([
        'AUTH' => $AUTH, 'LEGACY_ID' => 'PHP-SMS-1',
    ])->searchMessagesResult;

    // 6. A wrong password: SoapClient throws a SoapFault.
    $fault = null;
    try {
        $client->getReservations(['AUTH' => array_merge($AUTH, ['PASSWORD' => $password . '-wrong'])]);
    } catch (SoapFault $caught) {
        $fault = fault_of($caught);
    }
    if ($fault === null) {
        throw new RuntimeException('a wrong password was accepted');
    }

    $itemFields = ['APP_LID', 'RESULT', 'ACTION', 'RESERVATION_ID', 'ERROR_CODE', 'ERROR_FIELD', 'MESSAGE'];
    $rowFields = ['APP_LID', 'APP_DATE', 'APP_START_TIME', 'USER_MOBILE_PHONE', 'STATUS'];
    $messageItemFields = ['LEGACY_ID', 'RESULT', 'ACTION', 'MESSAGE_ID', 'SEGMENTS', 'ERROR_CODE', 'ERROR_FIELD', 'MESSAGE'];
    $storedMessageFields = ['MESSAGE_ID', 'LEGACY_ID', 'CHANNEL', 'TO', 'STATUS', 'SEGMENTS', 'ATTEMPTS'];
    return [
        'endpoint' => $client->lastLocation,
        'update' => fields($update, ['RESULT', 'CREATED', 'UPDATED', 'UNCHANGED', 'FAILED']) + [
            'items' => array_map(fn ($item) => fields($item, $itemFields), as_list($update->ITEMS, 'ITEM')),
        ],
        'read' => fields($page, ['RESULT', 'COUNT', 'MORE_RESULTS', 'NEXT_REQUEST_TIMESTAMP']) + [
            'reservations' => array_map(
                fn ($row) => fields($row, $rowFields),
                as_list($page->RESERVATIONS, 'RESERVATION'),
            ),
        ],
        'delta' => fields($delta, ['RESULT', 'COUNT']) + [
            'reservations' => count(as_list($delta->RESERVATIONS, 'RESERVATION')),
        ],
        'messages' => fields($messages, ['RESULT', 'QUEUED', 'ALREADY_QUEUED', 'FAILED']) + [
            'items' => array_map(
                fn ($item) => fields($item, $messageItemFields),
                as_list($messages->ITEMS, 'ITEM'),
            ),
        ],
        'search' => fields($search, ['RESULT', 'COUNT', 'MORE_RESULTS']) + [
            'messages' => array_map(
                fn ($row) => fields($row, $storedMessageFields),
                as_list($search->MESSAGES, 'MESSAGE'),
            ),
        ],
        'fault' => $fault,
    ];
}

if ($argc !== 5) {
    fwrite(STDERR, "usage: php roundtrip.php <wsdl_url> <instance> <username> <password>\n");
    exit(2);
}

try {
    $summary = main($argv[1], $argv[2], $argv[3], $argv[4]);
    echo json_encode($summary, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";
    exit(0);
} catch (SoapFault $fault) {
    fwrite(STDERR, "roundtrip failed: SOAP fault {$fault->faultcode}: {$fault->faultstring}\n");
    exit(1);
} catch (Throwable $error) {
    fwrite(STDERR, 'roundtrip failed: ' . $error . "\n");
    exit(1);
}
