"""pyvisa finds the ``@labrun`` backend by importing ``pyvisa_labrun``."""

from labrun.sim_devices.backend import LabrunVisaLibrary

WRAPPER_CLASS = LabrunVisaLibrary
