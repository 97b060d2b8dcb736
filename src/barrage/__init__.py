"""barrage: early warning and impact simulation for massive strikes on Ukraine's power system.

Data credit: attack record by Petro Ivaniuk / Ukrainian Air Force (Kaggle
"Massive Missile Attacks on Ukraine"); weather by Open-Meteo / Copernicus ERA5;
power networks by PGLib-OPF and pandapower.
"""

__version__ = "0.1.0"

ATTRIBUTION = (
    "Attack record: Petro Ivaniuk / Ukrainian Air Force (Kaggle 'Massive Missile Attacks on "
    "Ukraine'). Weather: Open-Meteo / Copernicus ERA5 (CC BY 4.0). Networks: PGLib-OPF (CC BY 4.0), "
    "pandapower (BSD 3-Clause)."
)
