"""vward: virtual ward remote monitoring. This package holds what the processes share: settings, database, MQTT contract."""
