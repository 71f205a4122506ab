"""Vital signs and units: which findings are UK Core vital signs, and which units are UCUM.

Every LOINC code and unit here is fixed by a UK Core vital signs profile (the tests read them back
from the StructureDefinitions), so nothing is made up: a finding is mapped only when its name is
one of the listed names and its unit is one the profile allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
PROFILE_BASE = "https://fhir.hl7.org.uk/StructureDefinition/"

# Spoken or written unit -> (UCUM code, the unit text the profile fixes or the usual human name).
_UNITS: dict[str, tuple[str, str]] = {
    "/min": ("/min", "per minute"),
    "bpm": ("/min", "per minute"),
    "beats per minute": ("/min", "per minute"),
    "beats/min": ("/min", "per minute"),
    "breaths per minute": ("/min", "per minute"),
    "breaths/min": ("/min", "per minute"),
    "per minute": ("/min", "per minute"),
    "%": ("%", "percent"),
    "percent": ("%", "percent"),
    "per cent": ("%", "percent"),
    "c": ("Cel", "degree Celsius"),
    "°c": ("Cel", "degree Celsius"),
    "cel": ("Cel", "degree Celsius"),
    "celsius": ("Cel", "degree Celsius"),
    "degrees": ("Cel", "degree Celsius"),
    "degrees celsius": ("Cel", "degree Celsius"),
    "kg": ("kg", "kilogram"),
    "kilograms": ("kg", "kilogram"),
    "kilos": ("kg", "kilogram"),
    "cm": ("cm", "centimeter"),
    "centimetres": ("cm", "centimeter"),
    "centimeters": ("cm", "centimeter"),
    "m": ("m", "meter"),
    "metres": ("m", "meter"),
    "mmhg": ("mm[Hg]", "millimeter of mercury"),
    "mm hg": ("mm[Hg]", "millimeter of mercury"),
    "kg/m2": ("kg/m2", "kilogram per square meter"),
    "kg/m^2": ("kg/m2", "kilogram per square meter"),
    "kg/m²": ("kg/m2", "kilogram per square meter"),
    "mmol/l": ("mmol/L", "millimole per liter"),
    "g/l": ("g/L", "gram per liter"),
    "mg/l": ("mg/L", "milligram per liter"),
}


@dataclass(frozen=True)
class VitalSign:
    """One UK Core vital signs profile: its LOINC code and the UCUM units it accepts."""

    profile: str
    loinc: str
    name: str
    """A plain name for people; codings carry no LOINC display (we do not restate LOINC's text)."""
    units: tuple[str, ...]

    @property
    def profile_url(self) -> str:
        """The StructureDefinition URL for meta.profile."""
        return PROFILE_BASE + self.profile


HEART_RATE = VitalSign("UKCore-Observation-VitalSigns-HeartRate", "8867-4", "Heart rate", ("/min",))
RESPIRATION_RATE = VitalSign("UKCore-Observation-VitalSigns-RespirationRate", "9279-1", "Respiratory rate", ("/min",))
TEMPERATURE = VitalSign("UKCore-Observation-VitalSigns-BodyTemperature", "8310-5", "Body temperature", ("Cel",))
OXYGEN_SATURATION = VitalSign("UKCore-Observation-VitalSigns-OxygenSaturation", "2708-6", "Oxygen saturation", ("%",))
WEIGHT = VitalSign("UKCore-Observation-VitalSigns-BodyWeight", "29463-7", "Body weight", ("kg",))
HEIGHT = VitalSign("UKCore-Observation-VitalSigns-BodyHeight", "8302-2", "Body height", ("cm", "m"))
BMI = VitalSign("UKCore-Observation-VitalSigns-BMI", "39156-5", "Body mass index", ("kg/m2",))
BLOOD_PRESSURE = VitalSign("UKCore-Observation-VitalSigns-BloodPressure", "85354-9", "Blood pressure", ("mm[Hg]",))
SYSTOLIC = ("8480-6", "Systolic blood pressure")
DIASTOLIC = ("8462-4", "Diastolic blood pressure")
VITAL_SIGNS_PROFILE = PROFILE_BASE + "UKCore-Observation-VitalSigns"

ALL = (HEART_RATE, RESPIRATION_RATE, TEMPERATURE, OXYGEN_SATURATION, WEIGHT, HEIGHT, BMI, BLOOD_PRESSURE)

_NAMES: dict[str, VitalSign] = {
    "heart rate": HEART_RATE,
    "pulse": HEART_RATE,
    "pulse rate": HEART_RATE,
    "hr": HEART_RATE,
    "respiratory rate": RESPIRATION_RATE,
    "respiration rate": RESPIRATION_RATE,
    "resp rate": RESPIRATION_RATE,
    "rr": RESPIRATION_RATE,
    "temperature": TEMPERATURE,
    "body temperature": TEMPERATURE,
    "temp": TEMPERATURE,
    "oxygen saturation": OXYGEN_SATURATION,
    "oxygen saturations": OXYGEN_SATURATION,
    "sats": OXYGEN_SATURATION,
    "spo2": OXYGEN_SATURATION,
    "o2 saturation": OXYGEN_SATURATION,
    "weight": WEIGHT,
    "body weight": WEIGHT,
    "height": HEIGHT,
    "body height": HEIGHT,
    "bmi": BMI,
    "body mass index": BMI,
    "blood pressure": BLOOD_PRESSURE,
    "bp": BLOOD_PRESSURE,
}

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d+)?|\.\d+)$")
_PRESSURE = re.compile(r"^(\d{2,3})\s*/\s*(\d{2,3})$")


def ucum(unit: str) -> tuple[str, str] | None:
    """(UCUM code, unit text) for a unit as written, or None when it does not map."""
    return _UNITS.get(" ".join(unit.split()).casefold())


def vital_sign(name: str) -> VitalSign | None:
    """The vital sign a finding's name refers to, or None."""
    return _NAMES.get(" ".join(name.split()).casefold())


def number(value: str) -> float | None:
    """The value as a number when it is a plain decimal, else None."""
    value = value.strip()
    return float(value) if _NUMBER.match(value) else None


def pressure(value: str) -> tuple[int, int] | None:
    """(systolic, diastolic) from '120/80', or None."""
    match = _PRESSURE.match(value.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None
