-- A device's password in RabbitMQ's own hash format (salted SHA-256, rabbit_password_hashing_sha256), for
-- VWARD_BROKER=rabbitmq: RabbitMQ cannot check the Mosquitto PBKDF2 hash in mqtt_password_hash, and only
-- the hash is stored. Both are written whenever a password is issued or rotated. A device issued before
-- this column existed has none: it is not admitted by RabbitMQ until its credentials are rotated.
ALTER TABLE devices ADD COLUMN rabbitmq_password_hash text;
