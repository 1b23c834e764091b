// A HIS client in C#, on the ASMX proxy that `wsdl` (Mono, or .NET Framework's
// wsdl.exe) generates from the served WSDL (see README.md and build.sh). What it
// does, in the order a HIS would:
//
//   1. updateReservations: one day's appointments (one of them dated 31/02)
//   2. a delta read: getReservations page by page (MAX_RESULTS 2) until
//      MORE_RESULTS is false, keeping NEXT_REQUEST_TIMESTAMP as the cursor
//   3. a change (a patient cancelled at the desk), then the delta read again
//      from the kept cursor: only that appointment comes back; once more: nothing
//   4. updateMessages: an SMS, and an e-mail to an address that cannot be one
//   5. searchMessages by LEGACY_ID: what became of the SMS
//   6. a bad call (START_DATE 31/02/2027): the fault's CODE and FIELD, read
//      from SoapException.Detail
//
// Usage: mono HisClient.exe ENDPOINT INSTANCE USERNAME PASSWORD
// Prints one tab-separated line per fact ("-" for an absent value) and exits 0;
// exits 1 with the reason on stderr when something unexpected happens.

using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Web.Services.Protocols;
using System.Xml;
using Tuotempo.Soap;

public static class HisClient
{
    const string Day = "15/03/2027";
    const string Tns = "http://tuotempo-soap.org/v1";

    static void Print(params object[] values)
    {
        Console.WriteLine(string.Join("\t", values.Select(Text)));
    }

    static string Text(object value)
    {
        if (value == null) return "-";
        if (value is bool) return (bool)value ? "true" : "false";
        return value.ToString();
    }

    static Reservation NewReservation(
        string lid, string date, string start, string mobile, string status, string notes)
    {
        return new Reservation {
            APP_LID = lid,
            APP_DATE = date,
            APP_START_TIME = start,
            USER_MOBILE_PHONE = mobile,  // as the HIS holds it: the server normalises to E.164
            RESOURCE_LID = "DR-GARCIA",
            STATUS = status,
            NOTES = notes,
        };
    }

    static void Push(TuotempoService service, Authorization auth, params Reservation[] items)
    {
        UpdateReservationsResult result = service.updateReservations(
            new updateReservations { AUTH = auth, RESERVATIONS = items }).updateReservationsResult;
        Print("update", result.RESULT, result.CREATED, result.UPDATED, result.UNCHANGED, result.FAILED);
        foreach (ReservationItemResult item in result.ITEMS ?? new ReservationItemResult[0]) {
            // An optional number comes with a ...Specified flag: false when it was absent.
            Print("item", item.APP_LID, item.RESULT, item.ACTION,
                  item.RESERVATION_IDSpecified ? (object)item.RESERVATION_ID : null,
                  item.ERROR_CODE, item.ERROR_FIELD);
        }
    }

    // The delta read: every page until MORE_RESULTS is false, each call passing the
    // previous NEXT_REQUEST_TIMESTAMP unchanged. The returned cursor is what a HIS
    // stores (with the data it applied) and passes on its next run.
    static string ReadChanges(TuotempoService service, Authorization auth, int round, string cursor)
    {
        while (true) {
            GetReservationsResult page = service.getReservations(new getReservations {
                AUTH = auth,
                START_DATE = Day,
                END_DATE = Day,
                LAST_REQUEST_TIMESTAMP = cursor,
                MAX_RESULTS = 2,
                MAX_RESULTSSpecified = true,
            }).getReservationsResult;
            Print("page", round, page.COUNT, page.MORE_RESULTS);
            foreach (StoredReservation row in page.RESERVATIONS ?? new StoredReservation[0]) {
                Print("reservation", round, row.RESERVATION_ID, row.APP_LID, row.APP_DATE,
                      row.APP_START_TIME, row.USER_MOBILE_PHONE, row.STATUS, row.NOTES);
            }
            cursor = page.NEXT_REQUEST_TIMESTAMP;
            if (!page.MORE_RESULTS) return cursor;
        }
    }

    // ASMX proxies ignore the WSDL's <wsdl:fault>: every fault is a plain
    // SoapException, and our typed ServiceFault is the child of its Detail.
    static void PrintFault(SoapException fault)
    {
        var names = new XmlNamespaceManager(new NameTable());
        names.AddNamespace("t", Tns);
        XmlNode detail = fault.Detail == null ? null : fault.Detail.SelectSingleNode("t:ServiceFault", names);
        if (detail == null) throw new InvalidOperationException("a fault without ServiceFault: " + fault.Message);
        XmlNode code = detail.SelectSingleNode("t:CODE", names);
        XmlNode field = detail.SelectSingleNode("t:FIELD", names);
        Print("fault", code == null ? null : code.InnerText, field == null ? null : field.InnerText, fault.Message);
    }

    static void Run(TuotempoService service, Authorization auth)
    {
        // 1. One day's appointments, as the HIS exports them.
        Push(service, auth,
             NewReservation("CS-1001", Day, "09:30", "612345678", "APPROVED",
                            "Revisión anual, traer informe (1ª visita: 40 €)"),
             NewReservation("CS-1002", Day, "10:00", "+34 622 334 455", "PENDING", null),
             NewReservation("CS-1003", Day, "10:30", "633 44 55 66", "PENDING", null),
             NewReservation("CS-1004", "31/02/2027", "11:00", "644556677", "PENDING", null));

        // 2. and 3. The delta read loop, a change, and the loop again from the kept cursor.
        string cursor = ReadChanges(service, auth, 1, null);
        Push(service, auth,
             NewReservation("CS-1002", Day, "10:00", "+34 622 334 455", "CANCELLED by USER", null));
        cursor = ReadChanges(service, auth, 2, cursor);
        ReadChanges(service, auth, 3, cursor);

        // 4. Messages are queued; the server's worker sends them.
        UpdateMessagesResult queued = service.updateMessages(new updateMessages {
            AUTH = auth,
            MESSAGES = new[] {
                new Message { LEGACY_ID = "CS-SMS-1", CHANNEL = "SMS", TO = "612345678",
                              TEXT = "Le recordamos su cita de mañana 15/03 a las 09:30. Responda SI o NO." },
                new Message { LEGACY_ID = "CS-MAIL-1", CHANNEL = "EMAIL", TO = "paciente.example.org",
                              SUBJECT = "Su cita", TEXT = "Le recordamos su cita." },
            },
        }).updateMessagesResult;
        Print("messages", queued.RESULT, queued.QUEUED, queued.ALREADY_QUEUED, queued.FAILED);
        foreach (MessageItemResult item in queued.ITEMS ?? new MessageItemResult[0]) {
            Print("message", item.LEGACY_ID, item.RESULT, item.ACTION,
                  item.MESSAGE_IDSpecified ? (object)item.MESSAGE_ID : null,
                  item.SEGMENTSSpecified ? (object)item.SEGMENTS : null,
                  item.ERROR_CODE, item.ERROR_FIELD);
        }

        // 5. What became of the SMS, found by our own id.
        SearchMessagesResult found = service.searchMessages(
            new searchMessages { AUTH = auth, LEGACY_ID = "CS-SMS-1" }).searchMessagesResult;
        Print("search", found.RESULT, found.COUNT, found.MORE_RESULTS);
        foreach (StoredMessage row in found.MESSAGES ?? new StoredMessage[0]) {
            Print("found", row.MESSAGE_ID, row.LEGACY_ID, row.CHANNEL, row.TO, row.STATUS,
                  row.SEGMENTSSpecified ? (object)row.SEGMENTS : null, row.ATTEMPTS);
        }

        // 6. A bad call: branch on the detail's CODE, show its FIELD.
        try {
            service.getReservations(new getReservations { AUTH = auth, START_DATE = "31/02/2027" });
            throw new InvalidOperationException("START_DATE 31/02/2027 was accepted");
        } catch (SoapException fault) {
            PrintFault(fault);
        }
    }

    public static int Main(string[] args)
    {
        if (args.Length != 4) {
            Console.Error.WriteLine("usage: mono HisClient.exe ENDPOINT INSTANCE USERNAME PASSWORD");
            return 2;
        }
        Console.OutputEncoding = new UTF8Encoding(false);
        // The proxy holds the address of the WSDL it was built from; a HIS sets its own.
        var service = new TuotempoService { Url = args[0], Timeout = 30000 };
        Print("endpoint", service.Url);
        var auth = new Authorization { INSTANCE = args[1], USERNAME = args[2], PASSWORD = args[3] };
        try {
            Run(service, auth);
            return 0;
        } catch (SoapException fault) {
            Console.Error.WriteLine("unexpected fault " + fault.Code + ": " + fault.Message);
            return 1;
        }
    }
}
