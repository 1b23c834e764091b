-- Sincro (guide A.2) on SQL Server: the two views the agent reads, the
-- cancellations table it writes, and a trigger that applies what it writes.
--
--     sqlcmd -d agenda -i sqlserver.sql
--
-- The agent connects with mssql+pyodbc:// (pip install 'tuotempo-soap[sqlserver]'
-- and Microsoft's ODBC driver). Sections 2 to 4 are what the guide asks of a
-- clinic; section 1 stands for the clinic's own agenda.

-- 1. An example agenda (yours already exists) ---------------------------------

CREATE TABLE dbo.agenda_doctor (
  doctor_id     INT           NOT NULL PRIMARY KEY,
  first_name    NVARCHAR(50)  NOT NULL,
  last_name     NVARCHAR(50)  NULL,
  mobile        NVARCHAR(50)  NULL,
  email         NVARCHAR(50)  NULL,
  site_code     NVARCHAR(20)  NULL,
  site_name     NVARCHAR(50)  NULL,
  online        BIT           NOT NULL DEFAULT 0,
  slot_minutes  INT           NULL,
  reminders     BIT           NOT NULL DEFAULT 1
);
GO

CREATE TABLE dbo.agenda_appointment (
  appointment_id INT           NOT NULL PRIMARY KEY,
  doctor_id      INT           NOT NULL REFERENCES dbo.agenda_doctor,
  app_day        DATE          NOT NULL,
  start_time     TIME(0)       NOT NULL,
  end_time       TIME(0)       NULL,
  patient_id     NVARCHAR(20)  NULL,
  patient_name   NVARCHAR(100) NULL,     -- never in the view (A.2.2)
  mobile         NVARCHAR(50)  NULL,
  email          NVARCHAR(50)  NULL,
  language       NCHAR(2)      NULL,
  state          NVARCHAR(20)  NOT NULL DEFAULT 'BOOKED',  -- BOOKED, CANCELLED (desk), CANCELLED_BY_PATIENT
  row_version    ROWVERSION                                 -- changes with every write
);
GO

-- 2. The views (A.2.1) ---------------------------------------------------------

CREATE VIEW dbo.TT_RESOURCES AS
SELECT CONVERT(NVARCHAR(50), d.doctor_id) AS RESOURCE_LID,
       d.first_name                       AS RESOURCE_FIRST_NAME,
       d.last_name                        AS RESOURCE_SECOND_NAME,
       d.mobile                           AS RESOURCE_MOBILE_PHONE,
       d.email                            AS RESOURCE_EMAIL,
       d.site_code                        AS LOCATION_LID,
       d.site_name                        AS LOCATION_NAME,
       CONVERT(INT, d.online)             AS WEB_ENABLED,
       d.slot_minutes                     AS AVAILABILITIES_STEP
  FROM dbo.agenda_doctor d
 WHERE d.reminders = 1;
GO

-- The dates as the guide prefers them (style 103 is dd/mm/yyyy); LAST_CHANGE,
-- the row version, is the agent's optional change column.
CREATE VIEW dbo.TT_RESERVATIONS AS
SELECT CONVERT(NVARCHAR(50), a.appointment_id) AS APP_LID,
       CONVERT(NCHAR(10), a.app_day, 103)      AS APP_DATE,
       CONVERT(NCHAR(5), a.start_time, 108)    AS APP_START_TIME,
       CONVERT(NCHAR(5), a.end_time, 108)      AS APP_END_TIME,
       a.patient_id                            AS USER_LID,
       a.mobile                                AS USER_MOBILE_PHONE,
       a.email                                 AS USER_EMAIL,
       a.language                              AS USER_LANGUAGE,
       CONVERT(NVARCHAR(50), a.doctor_id)      AS RESOURCE_LID,
       CASE a.state
         WHEN 'BOOKED' THEN 'APPROVED'
         WHEN 'CANCELLED_BY_PATIENT' THEN 'CANCELLED by USER'
         ELSE 'CANCELLED by ADMIN'
       END                                     AS STATUS,
       a.row_version                           AS LAST_CHANGE
  FROM dbo.agenda_appointment a
 WHERE a.app_day BETWEEN DATEADD(DAY, -1, CAST(GETDATE() AS DATE))
                     AND DATEADD(DAY, 30, CAST(GETDATE() AS DATE));
GO

-- 3. The cancellations table (A.2.3) -------------------------------------------

CREATE TABLE dbo.TT_DELETE_RESERVATION (
  APP_TMP_ID          NVARCHAR(10)   NOT NULL PRIMARY KEY,
  APP_LID             NVARCHAR(50)   NULL,
  USER_LANDLINE_PHONE NVARCHAR(50)   NULL,
  USER_MOBILE_PHONE   NVARCHAR(50)   NULL,
  USER_EMAIL          NVARCHAR(50)   NULL,
  APP_STATUS          NVARCHAR(4000) NULL,
  STATUS_TRIGGER      NVARCHAR(4000) NULL,
  INSERT_TIME         DATETIME       NOT NULL
);
GO

-- 4. The trigger ------------------------------------------------------------------
-- SQL Server has no BEFORE triggers: this one runs after the insert, for all
-- the rows inserted at once, cancels the booked appointments and writes its
-- outcome back into the new rows. Owned by dbo like the agenda, so the agent's
-- user needs no right on the agenda (ownership chaining).

CREATE TRIGGER dbo.TT_DELETE_RESERVATION_APPLY
ON dbo.TT_DELETE_RESERVATION
AFTER INSERT
AS
BEGIN
  SET NOCOUNT ON;
  DECLARE @before TABLE (APP_TMP_ID NVARCHAR(10), found_state NVARCHAR(20));
  INSERT INTO @before (APP_TMP_ID, found_state)
  SELECT i.APP_TMP_ID, a.state
    FROM inserted i
    LEFT JOIN dbo.agenda_appointment a ON a.appointment_id = TRY_CAST(i.APP_LID AS INT);

  UPDATE a SET a.state = 'CANCELLED_BY_PATIENT'
    FROM dbo.agenda_appointment a
    JOIN inserted i ON a.appointment_id = TRY_CAST(i.APP_LID AS INT)
   WHERE a.state = 'BOOKED';

  UPDATE d
     SET d.APP_STATUS = CASE WHEN b.found_state = 'BOOKED' THEN 'CANCELLED_BY_PATIENT'
                             ELSE b.found_state END,
         d.STATUS_TRIGGER = CASE WHEN b.found_state IS NULL THEN 'NOT FOUND'
                                 WHEN b.found_state = 'BOOKED' THEN 'OK'
                                 ELSE 'ALREADY NOT BOOKED: UNCHANGED' END
    FROM dbo.TT_DELETE_RESERVATION d
    JOIN @before b ON b.APP_TMP_ID = d.APP_TMP_ID;
END;
GO

-- 5. The agent's database user (A.2.2: restricted privileges) ------------------
--
--   CREATE LOGIN tuotempo_sincro WITH PASSWORD = '...';
--   CREATE USER tuotempo_sincro FOR LOGIN tuotempo_sincro;
--   GRANT SELECT ON dbo.TT_RESOURCES TO tuotempo_sincro;
--   GRANT SELECT ON dbo.TT_RESERVATIONS TO tuotempo_sincro;
--   GRANT SELECT, INSERT ON dbo.TT_DELETE_RESERVATION TO tuotempo_sincro;
