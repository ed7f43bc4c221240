"""The plan evaluation report (`citywatch report`): figures from indicator records, plots and HTML."""
