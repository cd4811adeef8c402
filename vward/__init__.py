"""vward: virtual ward remote monitoring. What the processes share: settings, database, MQTT contract."""
