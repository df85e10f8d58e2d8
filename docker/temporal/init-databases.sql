-- Runs once, when temporal-db's volume is empty, as the `temporal` role: the server's two databases.
-- Their schemas are applied (and upgraded) by the temporal-schema one-shot service.
SELECT 'CREATE DATABASE temporal OWNER temporal'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'temporal')\gexec
SELECT 'CREATE DATABASE temporal_visibility OWNER temporal'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'temporal_visibility')\gexec
