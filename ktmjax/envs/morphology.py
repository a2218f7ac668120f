"""MJCF morphology variants. Benchmark A: the eight HalfCheetah morphologies of KTM-DRL (ktm-drl.md section 3).

Each variant multiplies every number of the `size` attribute of the named geoms by a
factor (0.75 small, 1.25 big) and changes nothing else. The compiler's
`inertiafromgeom="true" settotalmass="14"` stays, so body masses follow geom volume
and are rescaled to a 14 kg total.
"""
import xml.etree.ElementTree as ET

import mujoco
from etils import epath

TOTAL_MASS = 14.0

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
    return scale_geom_sizes(base_halfcheetah_xml(), geoms, factor)


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


def compile_mjcf(xml: str) -> mujoco.MjModel:
    """Compiles MJCF text; a `settotalmass` is applied with mj_setTotalmass (same masses,
    without MuJoCo's deprecation warning for the compiler attribute)."""
    root = ET.fromstring(xml)
    total_mass = None
    for compiler in root.iter("compiler"):
        if compiler.get("settotalmass") is not None:
            total_mass = float(compiler.attrib.pop("settotalmass"))
    model = mujoco.MjModel.from_xml_string(ET.tostring(root, encoding="unicode"))
    if total_mass is not None:
        mujoco.mj_setTotalmass(model, total_mass)
        mujoco.mj_setConst(model, mujoco.MjData(model))
    return model


def body_masses(model: mujoco.MjModel) -> dict:
    """Body name -> mass in kg (world body left out)."""
    return {model.body(i).name: float(model.body_mass[i]) for i in range(1, model.nbody)}
