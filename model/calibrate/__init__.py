"""Calibration: how far the step-by-step protocol's runs are from an observed track, and which
trust and delivery parameters bring them closest (``bargain calibrate``).

An *observed track* (``scenarios/observed/*.yaml``, schema ``TrackSpec``) gives, month by month,
the values of the issues that moved on the real track, the prisoners freed (as counts), the
months an actor paused and the partial deliveries before it, and a target band for the
cumulative releases. A run is read into the same form (``track_of``), and ``components``
compares the two, one number in [0, 1] per feature (0: as observed); the distance is their
weighted mean, averaged over seeds. docs/model.md ("Calibration") gives every formula.

The search (``calibrate``) runs the scenario's own values and a Latin hypercube over the
pausing actor's trust and its counterpart's delivery (``search_space``), every point with the
same seeds, on the sweep's executors (``model.sweep.executor``), and keeps the point with the
smallest mean distance. ``report_markdown`` says how well or badly that fits, and
``variant_text`` writes it as a scenario variant.

The package has one module per seam, each importing only those before it: ``track`` (the
observed track: its schema, reading and checking; a run read into the same form), ``distance``
(the components and their weighted mean), ``search`` (the parameters, the design, the runs and
the best point) and ``report`` (the report and the variant). Every name is re-exported here.
"""

from model import scenario as scn
from model.calibrate.distance import (
    COMPONENTS,
    caused_pauses,
    components,
    distance,
    increments,
    jaccard_distance,
    resumption_miss,
    spells,
)
from model.calibrate.report import (
    check_variant_path,
    findings,
    points_rows,
    report_markdown,
    variant_text,
    write_variant,
)
from model.calibrate.search import (
    Calibration,
    Parameter,
    PointFit,
    PointRuns,
    PointTask,
    calibrate,
    design,
    fit_point,
    search_space,
    simulate_point,
)
from model.calibrate.track import (
    DEFAULT_TRACK,
    MOVE,
    YEAR,
    CumulativeSpec,
    IssueTrackSpec,
    Month,
    Observed,
    PauseSpec,
    Probe,
    ReleaseSpec,
    ReleasesSpec,
    StepSpec,
    TargetsSpec,
    Track,
    TrackSpec,
    Weight,
    WeightsSpec,
    calibration_scenario,
    check_track,
    load_track,
    read_track,
    track_of,
)

__all__ = [
    "scn",
    "DEFAULT_TRACK",
    "YEAR",
    "MOVE",
    "Month",
    "Weight",
    "StepSpec",
    "IssueTrackSpec",
    "ReleaseSpec",
    "ReleasesSpec",
    "PauseSpec",
    "CumulativeSpec",
    "TargetsSpec",
    "WeightsSpec",
    "TrackSpec",
    "Track",
    "Probe",
    "Observed",
    "read_track",
    "check_track",
    "load_track",
    "calibration_scenario",
    "track_of",
    "COMPONENTS",
    "increments",
    "jaccard_distance",
    "spells",
    "caused_pauses",
    "resumption_miss",
    "components",
    "distance",
    "Parameter",
    "search_space",
    "design",
    "PointTask",
    "PointRuns",
    "simulate_point",
    "PointFit",
    "fit_point",
    "Calibration",
    "calibrate",
    "points_rows",
    "findings",
    "report_markdown",
    "variant_text",
    "check_variant_path",
    "write_variant",
]
