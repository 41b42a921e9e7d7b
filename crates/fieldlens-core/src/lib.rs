//! Domain model of fieldlens: cases, their lifecycle, routing and triage — pure logic, no IO.
