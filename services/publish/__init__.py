"""`citywatch publish`: a department's file of readings, validated locally, then produced straight to Kafka."""
