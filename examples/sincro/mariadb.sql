-- Sincro (guide A.2) on MariaDB or MySQL: the two views the agent reads, the
-- cancellations table it writes, and a trigger that applies what it writes.
--
-- Run it with the command-line client (the trigger needs its DELIMITER lines):
--     mariadb -u root agenda < mariadb.sql
--
-- Sections 2 to 4 are what the guide asks of a clinic; section 1 stands for the
-- clinic's own agenda, so that the views and the trigger have something to read
-- and change. Replace it (and the names in sections 2 and 4) with your tables.

-- 1. An example agenda (yours already exists) ---------------------------------

CREATE TABLE agenda_doctor (
  doctor_id     INT          NOT NULL PRIMARY KEY,
  first_name    VARCHAR(50)  NOT NULL,
  last_name     VARCHAR(50)  NULL,
  mobile        VARCHAR(50)  NULL,
  email         VARCHAR(50)  NULL,
  site_code     VARCHAR(20)  NULL,
  site_name     VARCHAR(50)  NULL,
  online        TINYINT      NOT NULL DEFAULT 0,
  slot_minutes  INT          NULL,
  reminders     TINYINT      NOT NULL DEFAULT 1  -- 0: this doctor's patients get no reminders
);

CREATE TABLE agenda_appointment (
  appointment_id INT          NOT NULL PRIMARY KEY,
  doctor_id      INT          NOT NULL,
  day            INT          NOT NULL,  -- a decimal date, yyyymmdd: the agent's [formats] APP_DATE = "yyyymmdd"
  start_time     CHAR(5)      NOT NULL,  -- hh:mm
  end_time       CHAR(5)      NULL,
  patient_id     VARCHAR(20)  NULL,
  patient_name   VARCHAR(100) NULL,      -- never in the view (A.2.2)
  mobile         VARCHAR(50)  NULL,
  email          VARCHAR(50)  NULL,
  language       CHAR(2)      NULL,
  state          VARCHAR(20)  NOT NULL DEFAULT 'BOOKED',  -- BOOKED, CANCELLED (at the desk), CANCELLED_BY_PATIENT
  changed_at     TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  KEY agenda_appointment_changed (changed_at),
  KEY agenda_appointment_day (day)
);

-- 2. The views (A.2.1) ---------------------------------------------------------
-- TT_RESOURCES chooses what is sent: appointments of a doctor not in it are not.

CREATE VIEW TT_RESOURCES AS
SELECT CAST(d.doctor_id AS CHAR(50)) AS RESOURCE_LID,
       d.first_name                  AS RESOURCE_FIRST_NAME,
       d.last_name                   AS RESOURCE_SECOND_NAME,
       d.mobile                      AS RESOURCE_MOBILE_PHONE,
       d.email                       AS RESOURCE_EMAIL,
       d.site_code                   AS LOCATION_LID,
       d.site_name                   AS LOCATION_NAME,
       d.online                      AS WEB_ENABLED,
       d.slot_minutes                AS AVAILABILITIES_STEP
  FROM agenda_doctor d
 WHERE d.reminders = 1;

-- From yesterday to 30 days ahead. LAST_CHANGE is the optional change column
-- (the agent's [clinic] change_column): with it the agent reads only the rows
-- changed since its last run, without it it compares every row by checksum.
-- A deleted appointment simply leaves the view: the agent tells the server it
-- was cancelled by the clinic.
CREATE VIEW TT_RESERVATIONS AS
SELECT CAST(a.appointment_id AS CHAR(50)) AS APP_LID,
       a.day                              AS APP_DATE,
       a.start_time                       AS APP_START_TIME,
       a.end_time                         AS APP_END_TIME,
       a.patient_id                       AS USER_LID,
       a.mobile                           AS USER_MOBILE_PHONE,
       a.email                            AS USER_EMAIL,
       a.language                         AS USER_LANGUAGE,
       CAST(a.doctor_id AS CHAR(50))      AS RESOURCE_LID,
       CASE a.state
         WHEN 'BOOKED' THEN 'APPROVED'
         WHEN 'CANCELLED_BY_PATIENT' THEN 'CANCELLED by USER'
         ELSE 'CANCELLED by ADMIN'
       END                                AS STATUS,
       a.changed_at                       AS LAST_CHANGE
  FROM agenda_appointment a
 WHERE a.day BETWEEN CAST(DATE_FORMAT(CURRENT_DATE - INTERVAL 1 DAY, '%Y%m%d') AS UNSIGNED)
                 AND CAST(DATE_FORMAT(CURRENT_DATE + INTERVAL 30 DAY, '%Y%m%d') AS UNSIGNED);

-- 3. The cancellations table (A.2.3) -------------------------------------------
-- The agent writes a row for every appointment a patient cancelled by SMS,
-- e-mail, voice or web page. APP_TMP_ID is the agent's (the same cancellation
-- always gets the same id, so a row is never written twice); APP_STATUS and
-- STATUS_TRIGGER are the trigger's to fill.

CREATE TABLE TT_DELETE_RESERVATION (
  APP_TMP_ID          NVARCHAR(10)   NOT NULL PRIMARY KEY,
  APP_LID             NVARCHAR(50)   NULL,
  USER_LANDLINE_PHONE NVARCHAR(50)   NULL,
  USER_MOBILE_PHONE   NVARCHAR(50)   NULL,
  USER_EMAIL          NVARCHAR(50)   NULL,
  APP_STATUS          NVARCHAR(4000) NULL,
  STATUS_TRIGGER      NVARCHAR(4000) NULL,
  INSERT_TIME         DATETIME       NOT NULL
);

-- 4. The trigger ------------------------------------------------------------------
-- Cancels the appointment in the agenda (it could as well delete it) and notes
-- what it did. It runs with its definer's rights, so the agent's user needs no
-- right on the agenda itself. The next run of the agent reads the appointment
-- back as CANCELLED by USER, which is what the server already holds.

DELIMITER //
CREATE TRIGGER TT_DELETE_RESERVATION_APPLY
BEFORE INSERT ON TT_DELETE_RESERVATION
FOR EACH ROW
BEGIN
  DECLARE found_state VARCHAR(20) DEFAULT NULL;
  -- APP_LID is text; the agenda's id a number: compare only what can be one.
  IF NEW.APP_LID REGEXP '^[0-9]{1,9}$' THEN
    SELECT state INTO found_state FROM agenda_appointment
     WHERE appointment_id = CAST(NEW.APP_LID AS UNSIGNED);
  END IF;
  IF found_state IS NULL THEN
    SET NEW.STATUS_TRIGGER = 'NOT FOUND';
  ELSEIF found_state = 'BOOKED' THEN
    UPDATE agenda_appointment SET state = 'CANCELLED_BY_PATIENT'
     WHERE appointment_id = CAST(NEW.APP_LID AS UNSIGNED);
    SET NEW.APP_STATUS = 'CANCELLED_BY_PATIENT', NEW.STATUS_TRIGGER = 'OK';
  ELSE
    SET NEW.APP_STATUS = found_state, NEW.STATUS_TRIGGER = 'ALREADY NOT BOOKED: UNCHANGED';
  END IF;
END//
DELIMITER ;

-- 5. The agent's database user (A.2.2: restricted privileges) ------------------
-- Read the views, write the cancellations table, nothing else (the views run
-- with their definer's rights too). Choose the host and the password:
--
--   CREATE USER 'tuotempo_sincro'@'10.0.0.%' IDENTIFIED BY '...';
--   GRANT SELECT ON agenda.TT_RESOURCES TO 'tuotempo_sincro'@'10.0.0.%';
--   GRANT SELECT ON agenda.TT_RESERVATIONS TO 'tuotempo_sincro'@'10.0.0.%';
--   GRANT SELECT, INSERT ON agenda.TT_DELETE_RESERVATION TO 'tuotempo_sincro'@'10.0.0.%';
