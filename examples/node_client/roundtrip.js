#!/usr/bin/env node
// A round trip against tuotempo-soap with node-soap (https://www.npmjs.com/package/soap).
//
//   node roundtrip.js <wsdl_url> <instance> <username> <password>
//
// 1. updateReservations: two valid appointments and one with an impossible date
// 2. getReservations for the month of those appointments
// 3. getReservations again with LAST_REQUEST_TIMESTAMP = the NEXT_REQUEST_TIMESTAMP
//    of step 2: nothing changed since, so COUNT is 0
// 4. a call with a wrong password, to show how a SOAP fault arrives
//
// Prints one JSON object with what it saw on stdout and exits 0; exits non-zero
// with a message on stderr when something unexpected happens.
'use strict';

const soap = require('soap');

// node-soap gives a repeated element (maxOccurs="unbounded") as an array, but an
// empty container (<RESERVATIONS/>) as null: always work with an array.
function asArray(container, name) {
  if (!container || typeof container !== 'object') return [];
  const value = container[name];
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

// A SOAP fault from node-soap: err.root is the parsed envelope.
function faultOf(err) {
  const fault = err && err.root && err.root.Envelope && err.root.Envelope.Body
    && err.root.Envelope.Body.Fault;
  if (!fault) return null;
  const detail = (fault.detail && fault.detail.ServiceFault) || {};
  return {
    faultcode: fault.faultcode,
    faultstring: fault.faultstring,
    CODE: detail.CODE,
    FIELD: detail.FIELD,
    MESSAGE: detail.MESSAGE,
  };
}

// The address node-soap posts to: the first port of the WSDL's service.
function endpointOf(client) {
  const service = Object.values(client.wsdl.definitions.services)[0];
  const port = service && Object.values(service.ports)[0];
  return port ? port.location : undefined;
}

async function main(wsdlUrl, instance, username, password) {
  const AUTH = { INSTANCE: instance, USERNAME: username, PASSWORD: password };

  // The client posts to the WSDL's soap:address, which the server sets to the
  // URL the WSDL was fetched from.
  const client = await soap.createClientAsync(wsdlUrl);

  // 1. updateReservations: dates dd/mm/yyyy, times hh:mm, phones as the HIS has them.
  const [updated] = await client.updateReservationsAsync({
    AUTH,
    RESERVATIONS: {
      RESERVATION: [
        {
          APP_LID: 'NODE-1001', APP_DATE: '15/03/2027', APP_START_TIME: '09:30',
          USER_MOBILE_PHONE: '612345678', RESOURCE_LID: 'DR-GARCIA', STATUS: 'PENDING',
        },
        {
          APP_LID: 'NODE-1002', APP_DATE: '16/03/2027', APP_START_TIME: '17:15',
          USER_MOBILE_PHONE: '+34 622 334 455', RESOURCE_LID: 'DR-GARCIA', STATUS: 'APPROVED',
        },
        {
          APP_LID: 'NODE-1003', APP_DATE: '31/02/2027', APP_START_TIME: '10:00',
          USER_MOBILE_PHONE: '633445566', RESOURCE_LID: 'DR-GARCIA', STATUS: 'PENDING',
        },
      ],
    },
  });
  const update = updated.updateReservationsResult;

  // 2. Read the month back.
  const [read] = await client.getReservationsAsync({
    AUTH, START_DATE: '01/03/2027', END_DATE: '31/03/2027',
  });
  const page = read.getReservationsResult;

  // 3. Delta read: only what changed since the previous call.
  const [delta] = await client.getReservationsAsync({
    AUTH, START_DATE: '01/03/2027', END_DATE: '31/03/2027',
    LAST_REQUEST_TIMESTAMP: page.NEXT_REQUEST_TIMESTAMP,
  });
  const deltaPage = delta.getReservationsResult;

  // 4. A wrong password: node-soap rejects with the parsed fault in err.root.
  let fault = null;
  try {
    await client.getReservationsAsync({ AUTH: { ...AUTH, PASSWORD: `${password}-wrong` } });
  } catch (err) {
    fault = faultOf(err);
    if (!fault) throw err;
  }
  if (!fault) throw new Error('a wrong password was accepted');

  const summary = {
    endpoint: endpointOf(client),
    update: {
      RESULT: update.RESULT,
      CREATED: update.CREATED,
      UPDATED: update.UPDATED,
      UNCHANGED: update.UNCHANGED,
      FAILED: update.FAILED,
      items: asArray(update.ITEMS, 'ITEM').map((item) => ({
        APP_LID: item.APP_LID,
        RESULT: item.RESULT,
        ACTION: item.ACTION,
        RESERVATION_ID: item.RESERVATION_ID,
        ERROR_CODE: item.ERROR_CODE,
        ERROR_FIELD: item.ERROR_FIELD,
        MESSAGE: item.MESSAGE,
      })),
    },
    read: {
      RESULT: page.RESULT,
      COUNT: page.COUNT,
      MORE_RESULTS: page.MORE_RESULTS,
      NEXT_REQUEST_TIMESTAMP: page.NEXT_REQUEST_TIMESTAMP,
      reservations: asArray(page.RESERVATIONS, 'RESERVATION').map((r) => ({
        APP_LID: r.APP_LID,
        APP_DATE: r.APP_DATE,
        APP_START_TIME: r.APP_START_TIME,
        USER_MOBILE_PHONE: r.USER_MOBILE_PHONE,
        STATUS: r.STATUS,
      })),
    },
    delta: {
      RESULT: deltaPage.RESULT,
      COUNT: deltaPage.COUNT,
      reservations: asArray(deltaPage.RESERVATIONS, 'RESERVATION').length,
    },
    fault,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

const args = process.argv.slice(2);
if (args.length !== 4) {
  process.stderr.write('usage: node roundtrip.js <wsdl_url> <instance> <username> <password>\n');
  process.exit(2);
}

main(...args).catch((err) => {
  const fault = faultOf(err);
  const reason = fault ? `SOAP fault ${fault.faultcode}: ${fault.faultstring}` : (err && err.stack) || err;
  process.stderr.write(`roundtrip failed: ${reason}\n`);
  process.exit(1);
});
