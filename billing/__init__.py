"""Pure billing rules for RPM treatment management (CPT 99457, 99458, 99470).

Nothing in this package does I/O, reads a clock or imports a database, Slack or Twilio
library: every adapter and the service layer call it with plain values, so one table of
tests pins the rules for all of them.
"""
