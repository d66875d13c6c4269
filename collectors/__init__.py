"""Fixed-gateway daemon and drive-by crew tool: read a receiver, tag time/GPS/RSSI, spool to disk, publish to MQTT."""
