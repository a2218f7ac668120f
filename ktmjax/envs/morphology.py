"""MJCF morphology variants. Benchmark A: the eight HalfCheetah morphologies of KTM-DRL (ktm-drl.md section 3).

Each variant multiplies every number of the `size` attribute of the named geoms by a
factor (0.75 small, 1.25 big) and changes nothing else. Body masses follow geom volume
(`inertiafromgeom="true"`) and are rescaled to a 14 kg total, as Brax's stock
`settotalmass="14"` does; MuJoCo 4 deprecates that compiler attribute, so the variant
MJCF states the geom density that gives the total instead (`with_total_mass`).
"""
import xml.etree.ElementTree as ET

import mujoco
from etils import epath

TOTAL_MASS = 14.0
DEFAULT_DENSITY = 1000.0   # MuJoCo's geom density (kg/m^3) where none is given

# part -> geoms scaled ("leg" means the shin, as in the paper).
_PART_GEOMS = {
    "Torso": ("torso",),
    "Thigh": ("bthigh", "fthigh"),
    "Leg": ("bshin", "fshin"),
    "Foot": ("bfoot", "ffoot"),
}
_SIZE_FACTORS = {"Small": 0.75, "Big": 1.25}

VARIANTS = {
    f"HalfCheetah{size}{part}": (geoms, factor)
    for part, geoms in _PART_GEOMS.items()
    for size, factor in _SIZE_FACTORS.items()
}
# The order of the paper's Benchmark A table.
BENCHMARK_A_ORDER = (
    "HalfCheetahSmallTorso", "HalfCheetahBigTorso", "HalfCheetahSmallThigh",
    "HalfCheetahBigThigh", "HalfCheetahSmallLeg", "HalfCheetahBigLeg",
    "HalfCheetahSmallFoot", "HalfCheetahBigFoot",
)


def brax_asset_xml(file_name: str) -> str:
    """The MJCF text of one of the robots shipped with Brax."""
    return (epath.resource_path("brax") / "envs/assets" / file_name).read_text()


def base_halfcheetah_xml() -> str:
    """The standard half_cheetah MJCF as shipped with Brax."""
    return brax_asset_xml("half_cheetah.xml")


def halfcheetah_variant_xml(task_name: str) -> str:
    """Returns the MJCF text of a Benchmark A task (e.g. 'HalfCheetahBigFoot')."""
    if task_name not in VARIANTS:
        raise ValueError(
            f"unknown HalfCheetah variant {task_name!r}; known: {', '.join(BENCHMARK_A_ORDER)}")
    geoms, factor = VARIANTS[task_name]
    return with_total_mass(scale_geom_sizes(base_halfcheetah_xml(), geoms, factor))


def scale_geom_sizes(xml: str, geoms, factor: float) -> str:
    """Multiplies every number of the `size` attribute of the named geoms by `factor`."""
    root = ET.fromstring(xml)
    found = set()
    for geom in root.iter("geom"):
        if geom.get("name") in geoms:
            sizes = [float(x) * factor for x in geom.get("size").split()]
            geom.set("size", " ".join(repr(s) for s in sizes))
            found.add(geom.get("name"))
    if found != set(geoms):
        raise ValueError(f"geoms {sorted(set(geoms) - found)} not found in the MJCF")
    return ET.tostring(root, encoding="unicode")


def with_total_mass(xml: str, total: float = TOTAL_MASS) -> str:
    """`xml` without the compiler's `settotalmass`, its bodies weighing `total` kg in all:
    the default geom density is scaled so, which scales every body's mass and inertia by
    one factor and moves no centre of mass, as `settotalmass` (mj_setTotalmass) does.
    The geoms must take their mass from the default density (none sets mass or density)."""
    root = ET.fromstring(xml)
    for compiler in root.iter("compiler"):
        compiler.attrib.pop("settotalmass", None)
    geom_default = root.find("default/geom")
    if geom_default is None or any("mass" in g.attrib or "density" in g.attrib
                                   for g in root.iter("geom") if g is not geom_default):
        raise ValueError("the geoms must take their density from the top default class")
    unscaled = mujoco.MjModel.from_xml_string(ET.tostring(root, encoding="unicode"))
    density = float(geom_default.get("density", DEFAULT_DENSITY))
    geom_default.set("density", repr(density * total / float(unscaled.body_mass[1:].sum())))
    return ET.tostring(root, encoding="unicode")


def body_masses(model: mujoco.MjModel) -> dict:
    """Body name -> mass in kg (world body left out)."""
    return {model.body(i).name: float(model.body_mass[i]) for i in range(1, model.nbody)}
