"""All SQL of odczyt: numbered migrations, time-series layout, COPY writers, the meter registry, queries."""
