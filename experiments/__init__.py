"""The experiment model: measurement logic, run in the background, stoppable, observable."""
