-- Sincro (guide A.2) on PostgreSQL: the two views the agent reads, the
-- cancellations table it writes, and a trigger that applies what it writes.
--
--     psql -v ON_ERROR_STOP=1 -d agenda -f postgresql.sql
--
-- Sections 2 to 4 are what the guide asks of a clinic; section 1 stands for the
-- clinic's own agenda. Unquoted names are folded to lower case by PostgreSQL
-- (tt_reservations, app_lid): the agent matches names without regard to case.

-- 1. An example agenda (yours already exists) ---------------------------------

CREATE TABLE agenda_doctor (
  doctor_id     integer      PRIMARY KEY,
  first_name    varchar(50)  NOT NULL,
  last_name     varchar(50),
  mobile        varchar(50),
  email         varchar(50),
  site_code     varchar(20),
  site_name     varchar(50),
  online        boolean      NOT NULL DEFAULT false,
  slot_minutes  integer,
  reminders     boolean      NOT NULL DEFAULT true  -- false: this doctor's patients get no reminders
);

CREATE TABLE agenda_appointment (
  appointment_id integer      PRIMARY KEY,
  doctor_id      integer      NOT NULL REFERENCES agenda_doctor,
  day            date         NOT NULL,
  start_time     time         NOT NULL,
  end_time       time,
  patient_id     varchar(20),
  patient_name   varchar(100),            -- never in the view (A.2.2)
  mobile         varchar(50),
  email          varchar(50),
  language       char(2),
  state          varchar(20)  NOT NULL DEFAULT 'BOOKED'  -- BOOKED, CANCELLED (desk), CANCELLED_BY_PATIENT
);
CREATE INDEX agenda_appointment_day ON agenda_appointment (day);

-- 2. The views (A.2.1) ---------------------------------------------------------
-- TT_RESOURCES chooses what is sent: appointments of a doctor not in it are not.

CREATE VIEW tt_resources AS
SELECT d.doctor_id::text  AS resource_lid,
       d.first_name       AS resource_first_name,
       d.last_name        AS resource_second_name,
       d.mobile           AS resource_mobile_phone,
       d.email            AS resource_email,
       d.site_code        AS location_lid,
       d.site_name        AS location_name,
       d.online::int      AS web_enabled,
       d.slot_minutes     AS availabilities_step
  FROM agenda_doctor d
 WHERE d.reminders;

-- From yesterday to 30 days ahead. No change column here: the agent compares
-- every row with the checksum it kept. STATUS carries the agenda's own codes,
-- translated by the agent's [status] table (BOOKED = "APPROVED", ...). A
-- deleted appointment simply leaves the view: the agent tells the server it
-- was cancelled by the clinic.
CREATE VIEW tt_reservations AS
SELECT a.appointment_id::text AS app_lid,
       a.day                  AS app_date,
       a.start_time           AS app_start_time,
       a.end_time             AS app_end_time,
       a.patient_id           AS user_lid,
       a.mobile               AS user_mobile_phone,
       a.email                AS user_email,
       a.language             AS user_language,
       a.doctor_id::text      AS resource_lid,
       a.state                AS status
  FROM agenda_appointment a
 WHERE a.day BETWEEN current_date - 1 AND current_date + 30;

-- 3. The cancellations table (A.2.3) -------------------------------------------
-- The agent writes a row for every appointment a patient cancelled by SMS,
-- e-mail, voice or web page. APP_TMP_ID is the agent's (the same cancellation
-- always gets the same id, so a row is never written twice); APP_STATUS and
-- STATUS_TRIGGER are the trigger's to fill.

CREATE TABLE tt_delete_reservation (
  app_tmp_id          varchar(10)   PRIMARY KEY,
  app_lid             varchar(50),
  user_landline_phone varchar(50),
  user_mobile_phone   varchar(50),
  user_email          varchar(50),
  app_status          varchar(4000),
  status_trigger      varchar(4000),
  insert_time         timestamp     NOT NULL
);

-- 4. The trigger ------------------------------------------------------------------
-- Cancels the appointment in the agenda (it could as well delete it) and notes
-- what it did. SECURITY DEFINER: it runs with its owner's rights, so the
-- agent's user needs no right on the agenda itself.

CREATE FUNCTION tt_delete_reservation_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  found_state varchar(20);
  -- APP_LID is text; the agenda's id a number: compare only what can be one.
  wanted integer := CASE WHEN NEW.app_lid ~ '^[0-9]{1,9}$' THEN NEW.app_lid::integer END;
BEGIN
  SELECT state INTO found_state FROM agenda_appointment WHERE appointment_id = wanted;
  IF found_state IS NULL THEN
    NEW.status_trigger := 'NOT FOUND';
  ELSIF found_state = 'BOOKED' THEN
    UPDATE agenda_appointment SET state = 'CANCELLED_BY_PATIENT' WHERE appointment_id = wanted;
    NEW.app_status := 'CANCELLED_BY_PATIENT';
    NEW.status_trigger := 'OK';
  ELSE
    NEW.app_status := found_state;
    NEW.status_trigger := 'ALREADY NOT BOOKED: UNCHANGED';
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER tt_delete_reservation_apply
BEFORE INSERT ON tt_delete_reservation
FOR EACH ROW EXECUTE FUNCTION tt_delete_reservation_apply();

-- 5. The agent's database user (A.2.2: restricted privileges) ------------------
-- Read the views, write the cancellations table, nothing else (views read
-- with their owner's rights).
--
--   CREATE ROLE tuotempo_sincro LOGIN PASSWORD '...';
--   GRANT SELECT ON tt_resources, tt_reservations TO tuotempo_sincro;
--   GRANT SELECT, INSERT ON tt_delete_reservation TO tuotempo_sincro;
