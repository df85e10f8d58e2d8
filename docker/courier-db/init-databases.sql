-- Runs once, when courier-db's volume is empty (docker-entrypoint-initdb.d), as the `courier` role
-- (POSTGRES_USER). Courier's database and the payment sandbox's own one; Courier's schema is applied
-- by the worker's migrations at start, the sandbox's by the sandbox.
SELECT 'CREATE DATABASE courier OWNER courier'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'courier')\gexec
SELECT 'CREATE DATABASE courier_payments OWNER courier'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'courier_payments')\gexec
