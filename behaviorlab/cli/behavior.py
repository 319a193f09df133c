"""The behavior commands of the CLI: ``behaviorlab map``, ``behaviorlab ethogram`` and ``behaviorlab classify``.

Thin typer sub-apps over :mod:`behaviorlab.behavior.maps`, :mod:`behaviorlab.behavior.ethogram`
and :mod:`behaviorlab.behavior.classify`, added to the main app in
:mod:`behaviorlab.cli.app`.  Session names are the features files' names without
``.nc``; every output is written atomically and an existing one is kept
unless ``--overwrite`` is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from behaviorlab.cli.common import friendly_errors, json_text, read_config
from behaviorlab.cli.trust import TrustOption, apply_trust
from behaviorlab.results.figure_files import FIGURE_SUFFIXES, write_figure

__all__ = ["classify_app", "ethogram_app", "map_app"]

# --------------------------------------------------------------------------- unsupervised behavior
map_app = typer.Typer(help="Behavior maps: UMAP embedding, density and watershed regions.", no_args_is_help=True)
ethogram_app = typer.Typer(
    help="Hidden Markov model ethograms: a Gaussian HMM of features, or an autoregressive HMM of poses.",
    no_args_is_help=True,
)

FeatureFiles = Annotated[list[Path], typer.Argument(help="Features files (.nc) from `behaviorlab features`.")]


def _load_sessions(paths: list[Path], variable: str | list[str], *, lazy: bool = False) -> dict[str, Any]:
    """Features files by session name (the file name without .nc); repeated names are an error.

    ``lazy``: values are read when used (the classifier's predict reads a long session a block at a time).
    """
    from behaviorlab.errors import FileFormatError  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.features.pipeline import load_session_features  # lazy: loads when the command runs
    from behaviorlab.features.wavelets import SPECTROGRAM_RECIPE  # lazy: loads when the command runs
    from behaviorlab.io.load import load_netcdf  # lazy: loads when the command runs (a fast --help)

    needed = [variable] if isinstance(variable, str) else list(variable)
    spectrogram = any(v.startswith("spectrogram") for v in needed)
    sessions: dict[str, Any] = {}
    for path in paths:
        name = path.name.removesuffix(path.suffix)
        if name in sessions:
            raise FileFormatError(path, f"another features file is also named {name!r}; session names must differ")
        # a spectrogram a file does not store (the features of `run`) is computed from the recipe it keeps,
        # block by block as the estimator reads it
        if spectrogram:
            ds = load_session_features(path, spectrogram="recipe", lazy=lazy)
        else:
            ds = load_netcdf(path, needed, lazy=lazy)
        computed = SPECTROGRAM_RECIPE in ds.attrs and "features" in ds
        missing = [v for v in needed if v not in ds and not (computed and v.startswith("spectrogram"))]
        if missing:
            raise FileFormatError(path, f"has no {', '.join(map(repr, missing))} (it holds {sorted(map(str, ds))})")
        sessions[name] = ds
    return sessions


def _estimator(cls: type, config: Path | None, given: dict[str, Any]) -> Any:
    """``cls(**params)`` from a YAML/JSON file of hyperparameters plus the options given on the command line."""
    from behaviorlab.errors import FileFormatError  # lazy: loads when the command runs (a fast --help)

    params = read_config(config) if config is not None else {}
    known = set(cls().get_params())
    unknown = sorted(set(params) - known)
    if unknown:
        raise FileFormatError(config, f"unknown {cls.__name__} parameters {unknown}; known: {sorted(known)}")
    params.update({k: v for k, v in given.items() if v is not None})
    return cls(**params)


def _refuse_existing(path: Path, overwrite: bool) -> None:
    from behaviorlab.errors import OutputExistsError  # lazy: loads when the command runs (a fast --help)

    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; pass --overwrite to replace it, or choose another path")


def _write_labels(labeled: dict[str, Any], variables: list[str], out_dir: Path, suffix: str, overwrite: bool) -> None:
    """Write each session's new variables (not its features) to ``OUT_DIR/<session>.<suffix>.nc``."""
    from behaviorlab.io.save import save_netcdf  # lazy: loads when the command runs (a fast --help)

    out_dir.mkdir(parents=True, exist_ok=True)
    for name, ds in labeled.items():
        path = out_dir / f"{name}.{suffix}.nc"
        _refuse_existing(path, overwrite)
        labels = ds[variables]
        labels.attrs["ds_type"] = suffix  # labels, not poses
        save_netcdf(labels, path)
        typer.echo(f"wrote {path}")


@map_app.command("fit")
@friendly_errors
def map_fit(
    features: FeatureFiles,
    out: Annotated[Path, typer.Option("--out", help="Model file to write (.pkl).")],
    variable: Annotated[str, typer.Option(help="What to embed: spectrogram or features.")] = "spectrogram",
    config: Annotated[
        Path | None, typer.Option(help="YAML/JSON file of BehaviorMap parameters (n_neighbors, bandwidth...).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (subsample, UMAP).")] = None,
    figure: Annotated[
        Path | None, typer.Option(help="Also write the density map here: .html, .png, .svg or .pdf.")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
) -> None:
    """Fit a behavior map on one or many sessions' features files and save it."""
    from behaviorlab.behavior.maps import BehaviorMap  # lazy: loads when the command runs (a fast --help)

    _refuse_existing(out, overwrite)
    sessions = _load_sessions(features, variable)
    estimator = _estimator(BehaviorMap, config, {"variable": variable, "random_state": seed})
    frames = sum(ds.sizes["time"] * ds.sizes.get("individual", 1) for ds in sessions.values())
    typer.echo(  # UMAP takes minutes on a laptop: say so before it starts
        f"fitting a behavior map on {frames} frames of {len(sessions)} sessions (UMAP on at most "
        f"{estimator.max_fit_frames} of them, then every frame placed on the map; about a minute per 10,000 "
        "frames on 2 cores)...",
        err=True,
    )
    model = estimator.fit(sessions)
    model.save(out)
    shares = ", ".join(f"{i}: {100 * f:.0f}%" for i, f in enumerate(model.region_fraction_))
    typer.echo(f"{model.n_regions_} regions from {len(model.labels_)} frames of {len(sessions)} sessions ({shares})")
    if figure is not None:
        write_figure(model.density_figure(), figure)
        typer.echo(f"wrote {figure}")
    typer.echo(f"wrote {out}")


@map_app.command("predict")
@friendly_errors
def map_predict(
    model: Annotated[Path, typer.Argument(help="Model file from `behaviorlab map fit`.")],
    features: FeatureFiles,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for <session>.map.nc files.")],
    overwrite: Annotated[bool, typer.Option(help="Replace existing outputs.")] = False,
    trust: TrustOption = None,
) -> None:
    """Embed sessions in a fitted map: per-frame `embedding` and `cluster` (-1 where features are missing)."""
    from behaviorlab.behavior.maps import BehaviorMap  # lazy: loads when the command runs (a fast --help)

    apply_trust(trust)
    fitted = BehaviorMap.load(model)
    sessions = _load_sessions(features, fitted.variable)
    _write_labels(fitted.label(sessions), ["embedding", "cluster"], out_dir, "map", overwrite)


@ethogram_app.command("fit")
@friendly_errors
def ethogram_fit(
    features: FeatureFiles,
    out: Annotated[Path, typer.Option("--out", help="Model file to write (.pkl).")],
    model: Annotated[
        str,
        typer.Option(
            help="hmm: Gaussian HMM of features or spectrograms; arhmm: autoregressive HMM of the poses "
            "(keypoint-MoSeq's model: syllables of movement)."
        ),
    ] = "hmm",
    n_states: Annotated[
        int | None,
        typer.Option(help="hmm: fixed number of states (default: chosen over the range); arhmm: states to start from."),
    ] = None,
    min_states: Annotated[int, typer.Option(help="hmm: smallest number of states tried.")] = 2,
    max_states: Annotated[int, typer.Option(help="hmm: largest number of states tried.")] = 8,
    criterion: Annotated[str, typer.Option(help="hmm: how to choose the number of states, bic or heldout.")] = "bic",
    sticky: Annotated[
        float | None,
        typer.Option(
            help="Self-transition prior; about (1 + sticky) times longer bouts (arhmm: default from --target-duration)."
        ),
    ] = None,
    target_duration: Annotated[
        float | None, typer.Option(help="arhmm: median syllable duration in seconds the stickiness aims at (0.4).")
    ] = None,
    variable: Annotated[str, typer.Option(help="hmm: what to model, features or spectrogram.")] = "features",
    config: Annotated[Path | None, typer.Option(help="YAML/JSON file of EthogramHMM or ARHMM parameters.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
) -> None:
    """Fit an HMM ethogram on one or many sessions' features files and save it."""
    _refuse_existing(out, overwrite)
    if model not in ("hmm", "arhmm"):
        raise typer.BadParameter(f"--model: {model!r}; choose hmm or arhmm")
    if model == "arhmm":
        _fit_arhmm(features, out, n_states, sticky, target_duration, config, seed)
        return
    from behaviorlab.behavior.ethogram import EthogramHMM  # lazy: loads when the command runs (a fast --help)

    sessions = _load_sessions(features, variable)
    given = {
        "n_states": n_states,
        "n_states_range": (min_states, max_states),
        "criterion": criterion,
        "sticky": sticky,
        "variable": variable,
        "random_state": seed,
    }
    estimator = _estimator(EthogramHMM, config, given)
    tried = "one number of states" if estimator.n_states is not None else "each number of states in the range"
    typer.echo(f"fitting HMMs with {tried} on {len(sessions)} sessions...", err=True)
    fitted = estimator.fit(sessions)
    fitted.save(out)
    if n_states is None:
        table = fitted.selection_[["n_states", "bic", "heldout_loglik", "chosen"]]
        typer.echo(table.to_string(index=False))
    typer.echo(f"{fitted.n_states_} states from {len(sessions)} sessions")
    typer.echo(f"wrote {out}")


def _fit_arhmm(
    features: list[Path],
    out: Path,
    n_states: int | None,
    sticky: float | None,
    target_duration: float | None,
    config: Path | None,
    seed: int | None,
) -> None:
    """``ethogram fit --model arhmm``: the AR-HMM on the poses kept in the features files."""
    from behaviorlab.behavior.arhmm import ARHMM  # lazy: loads when the command runs (a fast --help)

    sessions = _load_sessions(features, ["position", "confidence"])
    given = {"n_states": n_states, "kappa": sticky, "target_duration_s": target_duration, "random_state": seed}
    estimator = _estimator(ARHMM, config, given)
    typer.echo(f"fitting an autoregressive HMM on the poses of {len(sessions)} sessions...", err=True)
    fitted = estimator.fit(sessions)
    fitted.save(out)
    usage = ", ".join(f"{i}: {100 * u:.0f}%" for i, u in enumerate(fitted.usage_))
    typer.echo(
        f"{fitted.n_states_} syllables from {len(sessions)} sessions ({usage}); median syllable "
        f"{fitted.median_duration_s_:.2f} s, {100 * fitted.short_syllable_share_:.1f}% shorter than 3 frames; "
        f"stickiness {fitted.kappa_:.3g}"
    )
    typer.echo(f"wrote {out}")


def _load_ethogram_model(path: Path) -> Any:
    """Load the fitted EthogramHMM or ARHMM that ``path`` holds."""
    from behaviorlab.behavior.arhmm import ARHMM  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.behavior.ethogram import EthogramHMM  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.errors import FileFormatError  # lazy: loads when the command runs (a fast --help)

    try:
        return EthogramHMM.load(path)
    except FileFormatError as err:
        if "behaviorlab.ARHMM" not in str(err):
            raise
    return ARHMM.load(path)


@ethogram_app.command("predict")
@friendly_errors
def ethogram_predict(
    model: Annotated[Path, typer.Argument(help="Model file from `behaviorlab ethogram fit`.")],
    features: FeatureFiles,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for <session>.ethogram.nc, bouts and figures.")],
    figure_format: Annotated[
        str, typer.Option(help="Comma-separated figure formats: html (interactive), png, svg, pdf.")
    ] = "html",
    overwrite: Annotated[bool, typer.Option(help="Replace existing outputs.")] = False,
    trust: TrustOption = None,
) -> None:
    """Decode every frame's state; write states, a tidy bouts table and raster/transition/duration figures."""
    from behaviorlab._atomic import atomic_path  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.behavior.bouts import state_bouts  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.results.plots import (  # lazy: loads when the command runs (a fast --help)
        duration_histogram_figure,
        ethogram_raster_figure,
        transition_graph_figure,
    )

    suffixes = [f.strip().lower().lstrip(".") for f in figure_format.split(",") if f.strip()]
    unknown = [f for f in suffixes if f".{f}" not in FIGURE_SUFFIXES]
    if unknown or not suffixes:
        raise typer.BadParameter(f"--figure-format: {unknown or 'none given'}; choose from html, png, svg, pdf")
    apply_trust(trust)
    fitted = _load_ethogram_model(model)
    sessions = _load_sessions(features, getattr(fitted, "variable", ["position", "confidence"]))
    labeled = fitted.label(sessions)
    variable = fitted.label_variable  # state (Gaussian HMM) or syllable (AR-HMM)
    _write_labels(labeled, [variable], out_dir, "ethogram", overwrite)
    bouts = state_bouts({name: ds[variable] for name, ds in labeled.items()}, source=variable)
    bouts_path = out_dir / "bouts.csv"
    _refuse_existing(bouts_path, overwrite)
    with atomic_path(bouts_path) as tmp:
        bouts.to_csv(tmp, index=False)
    figures = {
        "ethogram_raster": ethogram_raster_figure({name: ds[variable] for name, ds in labeled.items()}),
        "transitions": transition_graph_figure(fitted.transmat_),
        "durations": duration_histogram_figure(bouts),
    }
    written = [
        write_figure(fig, out_dir / f"{name}.{suffix}").name for name, fig in figures.items() for suffix in suffixes
    ]
    typer.echo(f"wrote {bouts_path} ({len(bouts)} bouts) and {', '.join(written)} in {out_dir}")


# --------------------------------------------------------------------------- supervised behavior
classify_app = typer.Typer(help="Supervised behavior classifiers from annotated sessions.", no_args_is_help=True)

FeatureOption = Annotated[list[Path], typer.Option("--features", help="Features file (.nc); repeat per session.")]
LabelOption = Annotated[
    list[Path],
    typer.Option(
        "--labels",
        help="Annotation file per --features file, in the same order: BORIS export or project, interval table "
        "(raters kept apart), per-frame label CSV or SimBA targets.",
    ),
]


def _load_labeled_sessions(
    features: list[Path], labels: list[Path], min_raters: int, rater: str | None, clip: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Features and 3-D labels per session; multi-rater files become one rater or a consensus."""
    from behaviorlab.errors import FileFormatError  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.io.annotations import (  # lazy: loads when the command runs (a fast --help)
        consensus,
        load_annotations,
    )

    if len(features) != len(labels):
        raise typer.BadParameter(f"give one --labels file per --features file ({len(features)} against {len(labels)})")
    sessions = _load_sessions(features, "features")
    targets = {}
    for (name, ds), path in zip(sessions.items(), labels, strict=True):
        fps = ds.attrs.get("fps")
        if fps is None:
            raise FileFormatError(features[list(sessions).index(name)], "has no fps attr; recompute it with --fps")
        lab = load_annotations(
            path,
            fps=float(fps),
            n_frames=ds.sizes["time"],
            individuals=[str(i) for i in ds["individual"].values],
            clip=clip,
        )
        if "rater" in lab.dims:
            if rater is not None:
                if rater not in lab["rater"].values:
                    raise FileFormatError(
                        path, f"has no rater {rater!r}; raters: {list(map(str, lab['rater'].values))}"
                    )
                lab = lab.sel(rater=rater, drop=True)
            else:
                lab = consensus(lab, min_raters=min_raters)
        targets[name] = lab.assign_coords(time=ds["time"].values)
    return sessions, targets


@classify_app.command("train")
@friendly_errors
def classify_train(
    features: FeatureOption,
    labels: LabelOption,
    out: Annotated[Path, typer.Option("--out", help="Model file to write (.pkl).")],
    behaviors: Annotated[str | None, typer.Option(help="Comma-separated behaviors to learn; default all.")] = None,
    min_raters: Annotated[int, typer.Option(help="Multi-rater files: frames marked by at least this many.")] = 2,
    rater: Annotated[str | None, typer.Option(help="Multi-rater files: use this rater instead of a consensus.")] = None,
    clip: Annotated[
        bool, typer.Option(help="Drop labels that start after the features end and cut those that cross the end.")
    ] = False,
    model: Annotated[str, typer.Option(help="hgb (gradient boosting) or rf (random forest).")] = "hgb",
    config: Annotated[Path | None, typer.Option(help="YAML/JSON file of BehaviorClassifier parameters.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
) -> None:
    """Train one classifier per behavior; report cross-validated held-out F1 and save the model."""
    from behaviorlab.behavior.classify import BehaviorClassifier  # lazy: loads when the command runs (a fast --help)

    _refuse_existing(out, overwrite)
    sessions, targets = _load_labeled_sessions(features, labels, min_raters, rater, clip)
    names = [b.strip() for b in behaviors.split(",") if b.strip()] if behaviors else None
    clf = _estimator(BehaviorClassifier, config, {"behaviors": names, "model": model})
    folds = clf.n_cv_folds(sessions)
    typer.echo(
        f"cross-validating on {len(sessions)} sessions ({folds} folds, one model per behavior each)...", err=True
    )
    result = clf.cross_validate(sessions, targets)
    typer.echo(f"cross-validation ({result.cv}), held-out frames:")
    typer.echo(result.scores.to_string(index=False))
    typer.echo("fitting the final model on every session...", err=True)
    clf.fit(sessions, targets).save(out)
    typer.echo(f"thresholds: {', '.join(f'{b} {t:.2f}' for b, t in clf.thresholds_.items())}")
    typer.echo(f"wrote {out}")


@classify_app.command("predict")
@friendly_errors
def classify_predict(
    model: Annotated[Path, typer.Argument(help="Model file from `behaviorlab classify train`.")],
    features: FeatureFiles,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for <session>.behavior.nc and bouts.")],
    uncertain: Annotated[int, typer.Option(help="Also export the N least certain frames for annotation.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace existing outputs.")] = False,
    trust: TrustOption = None,
) -> None:
    """Per-frame behavior probabilities and decisions (threshold + bout cleaning), bouts, uncertain frames."""
    import numpy as np  # lazy: loads when the command runs (a fast --help)
    import pandas as pd  # lazy: loads when the command runs (a fast --help)

    from behaviorlab._atomic import atomic_path  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.behavior.classify import BehaviorClassifier  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.io.annotations import labels_to_bouts  # lazy: loads when the command runs (a fast --help)

    apply_trust(trust)
    clf = BehaviorClassifier.load(model)
    sessions = _load_sessions(features, clf.variable, lazy=True)
    labeled = clf.label(sessions)
    _write_labels(labeled, ["behavior_probability", "behavior_prediction"], out_dir, "behavior", overwrite)
    for name, ds in labeled.items():
        decisions = ds["behavior_prediction"]
        tables = []
        for behavior in decisions["behavior"].values:
            mask = decisions.sel(behavior=behavior, drop=True)
            names = mask.copy(data=np.where(mask.values, str(behavior), ""))  # per-frame names, "" = none
            tables.append(labels_to_bouts(names, fps=ds.attrs.get("fps")))
        path = out_dir / f"{name}.bouts.csv"
        _refuse_existing(path, overwrite)
        with atomic_path(path) as tmp:
            pd.concat(tables, ignore_index=True).to_csv(tmp, index=False)
        typer.echo(f"wrote {path}")
    if uncertain:
        path = out_dir / "uncertain_frames.csv"
        _refuse_existing(path, overwrite)
        with atomic_path(path) as tmp:
            clf.uncertain_frames(sessions, n=uncertain).to_csv(tmp, index=False)
        typer.echo(f"wrote {path} ({uncertain} frames to annotate next)")


@classify_app.command("suggest")
@friendly_errors
def classify_suggest(
    model: Annotated[Path, typer.Argument(help="Model file from `behaviorlab classify train`.")],
    features: FeatureFiles,
    out: Annotated[Path, typer.Option("--out", help="CSV of the suggested bouts to label next.")],
    n: Annotated[int, typer.Option("-n", help="How many bouts to suggest.")] = 20,
    min_separation_s: Annotated[
        float, typer.Option(help="Two suggestions of one animal at least this many seconds apart.")
    ] = 2.0,
    overwrite: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
    trust: TrustOption = None,
) -> None:
    """Propose the bouts whose labels would help the classifier most: where it is least sure, spread in time."""
    from behaviorlab._atomic import atomic_path  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.behavior.classify import BehaviorClassifier  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.behavior.suggest import (  # lazy: loads when the command runs (a fast --help)
        spread_picks,
        suggested_bouts,
        uncertainty_table,
    )

    apply_trust(trust)
    clf = BehaviorClassifier.load(model)
    sessions = _load_sessions(features, clf.variable, lazy=True)
    table = uncertainty_table(clf.predict_proba(sessions), clf.thresholds_, clf.behaviors_)
    picks = suggested_bouts(spread_picks(table, n, min_separation_s), table)
    _refuse_existing(out, overwrite)
    with atomic_path(out) as tmp:
        picks.to_csv(tmp, index=False)
    typer.echo(f"wrote {out}: {len(picks)} bouts to label next (label them, add them to the labels and train again)")


@classify_app.command("evaluate")
@friendly_errors
def classify_evaluate(
    model: Annotated[Path, typer.Argument(help="Model file from `behaviorlab classify train`.")],
    features: FeatureOption,
    labels: LabelOption,
    min_raters: Annotated[int, typer.Option(help="Multi-rater files: consensus of at least this many.")] = 2,
    clip: Annotated[
        bool, typer.Option(help="Drop labels that start after the features end and cut those that cross the end.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    trust: TrustOption = None,
) -> None:
    """Score a classifier on annotated sessions: frame and bout F1, and against each rater when there are several."""
    from behaviorlab.behavior.classify import BehaviorClassifier  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.io.annotations import load_annotations  # lazy: loads when the command runs (a fast --help)
    from behaviorlab.results.metrics import (  # lazy: loads when the command runs (a fast --help)
        bout_scores,
        classifier_vs_raters,
        frame_scores,
    )

    apply_trust(trust)
    clf = BehaviorClassifier.load(model)
    sessions, targets = _load_labeled_sessions(features, labels, min_raters, None, clip)
    seen = clf.training_sessions(sessions)
    report: dict[str, Any] = {}
    for (name, ds), path in zip(sessions.items(), labels, strict=True):
        pred = clf.predict(ds)
        truth = targets[name].sel(behavior=list(pred["behavior"].values))
        entry = {
            "training_session": seen[name],
            "frames": frame_scores(pred, truth).to_dict("records"),
            "bouts": bout_scores(pred, truth).to_dict("records"),
        }
        raw = load_annotations(
            path,
            fps=float(ds.attrs["fps"]),
            n_frames=ds.sizes["time"],
            individuals=[str(i) for i in ds["individual"].values],
            clip=clip,
        )
        if "rater" in raw.dims:
            per_rater = raw.sel(behavior=list(pred["behavior"].values)).assign_coords(time=ds["time"].values)
            entry["raters"] = classifier_vs_raters(pred, per_rater).to_dict("records")
        report[name] = entry
    if as_json:
        typer.echo(json_text(report))
        return
    import pandas as pd  # lazy: loads when the command runs (a fast --help)

    for name, entry in report.items():
        if entry["training_session"]:
            typer.secho(
                f"{name}: this session was among the model's training sessions: these scores are on training "
                "frames and overstate what the model does on new sessions (the held-out F1 comes from "
                "the cross-validation that `behaviorlab classify train` prints, or the run's cv_scores.csv)",
                fg=typer.colors.YELLOW,
            )
        typer.echo(f"{name}: frames")
        typer.echo(pd.DataFrame(entry["frames"]).to_string(index=False))
        typer.echo(f"{name}: bouts")
        typer.echo(pd.DataFrame(entry["bouts"]).to_string(index=False))
        if "raters" in entry:
            typer.echo(f"{name}: against each rater (rater_f1_mean is the human ceiling)")
            typer.echo(pd.DataFrame(entry["raters"]).to_string(index=False))
