"""Command lines: lip-corpus (synth | video), lip-train, lip-eval."""

import argparse
import json
import sys

from lip_policy import corpus


def _languages(text):
    return [lang.strip() for lang in text.split(',') if lang.strip()]


def corpus_main(argv=None):
    parser = argparse.ArgumentParser(prog='lip-corpus', description=__doc__)
    sub = parser.add_subparsers(dest='command', required=True)
    synth = sub.add_parser('synth', help='espeak-ng speech and song with teacher lips')
    synth.add_argument('--languages', type=_languages, default=None,
                       help='comma-separated wordfreq codes (default: all supported)')
    synth.add_argument('--clips-per-language', type=int, default=20)
    synth.add_argument('--sung-per-language', type=int, default=3,
                       help='sung clips (held syllables along a melody) per language')
    synth.add_argument('--seed', type=int, default=0)
    synth.add_argument('--out', required=True, help='corpus directory (created or extended)')
    fest = sub.add_parser('festival', help='festival speech (the issue #16 voices) with '
                          'teacher lips')
    fest.add_argument('--voices', type=_languages, default=None,
                      help='comma-separated festival voices (default: every allowed voice '
                           'that can run here; the others are named on stderr)')
    fest.add_argument('--clips-per-voice', type=int, default=60)
    fest.add_argument('--seed', type=int, default=0)
    fest.add_argument('--out', required=True, help='corpus directory (created or extended)')
    video = sub.add_parser('video', help='talking-head videos -> audio + observer lips')
    video.add_argument('files', nargs='+')
    video.add_argument('--out', required=True)
    video.add_argument('--language', default='unknown', help='language of the speech')
    args = parser.parse_args(argv)
    try:
        if args.command == 'synth':
            from lip_policy import synth as synth_module

            languages = args.languages or sorted(synth_module.LANGUAGES)
            written = synth_module.synthesise(languages, args.clips_per_language,
                                              args.sung_per_language, args.seed, args.out)
            total = len(corpus.read_manifest(args.out))
            print(json.dumps({'written': len(written), 'clips': total, 'out': args.out}))
        elif args.command == 'festival':
            return _festival_corpus(args)
        else:
            from lip_policy import video_corpus

            report = video_corpus.build(args.files, args.out, language=args.language)
            print(json.dumps(report))
            if not report['written']:
                return 1
    except (corpus.CorpusError, ValueError, RuntimeError) as error:
        print(f'lip-corpus: error: {error}', file=sys.stderr)
        return 2
    return 0


def _festival_corpus(args):
    from lip_policy import festival, synth

    voices = args.voices
    if voices is None:
        usable, missing = festival.usable_voices()
        if not usable:
            raise festival.FestivalError('no festival voice can run here: '
                                         + '; '.join(missing.values()))
        for reason in missing.values():
            print(f'lip-corpus: warning: skipped: {reason}', file=sys.stderr)
        voices = list(usable)
    written = synth.synthesise_festival(voices, args.clips_per_voice, args.seed, args.out)
    total = len(corpus.read_manifest(args.out))
    print(json.dumps({'written': len(written), 'clips': total, 'voices': voices,
                      'out': args.out}))
    return 0


def train_main(argv=None):
    from lip_policy import train
    from lip_policy.model import LipModelConfig

    parser = argparse.ArgumentParser(prog='lip-train',
                                     description='Train the audio -> lip model.')
    parser.add_argument('corpora', nargs='+', help='corpus directories')
    parser.add_argument('--out', required=True, help='checkpoint path (.pt)')
    parser.add_argument('--exclude-languages', type=_languages,
                        default=list(train.HELD_OUT_LANGUAGES),
                        help='held-out languages never trained on (default: '
                             f'{",".join(train.HELD_OUT_LANGUAGES)}; "" for none)')
    parser.add_argument('--exclude-voices', type=_languages,
                        default=list(train.HELD_OUT_VOICES),
                        help='held-out voices never trained on (default: '
                             f'{",".join(train.HELD_OUT_VOICES)}; "" for none)')
    parser.add_argument('--no-augment', action='store_true',
                        help='train on clean audio only (no augment.py chain)')
    parser.add_argument('--augment-variants', type=int,
                        default=train.TrainConfig().augment_variants,
                        help='augmented copies made per training clip before the first epoch '
                             '(each a different random voice, room and microphone)')
    parser.add_argument('--seal-weight', type=float, default=train.TrainConfig().seal_weight,
                        help='weight of the loss on an inner-lip gap left open where the '
                             'teacher seals /p b m/ (train.SealPenalty; 0: off)')
    parser.add_argument('--open-weight', type=float, default=train.TrainConfig().open_weight,
                        help='weight of the loss on an inner-lip gap near shut where the '
                             'teacher holds the mouth clearly open (train.SealPenalty; 0: off)')
    parser.add_argument('--lookahead-ms', type=int, default=60,
                        help='audio the model hears after a lip frame [ms], multiple of 10')
    parser.add_argument('--channels', type=int, default=LipModelConfig.channels)
    parser.add_argument('--coefficients', type=int, default=LipModelConfig.n_coefficients)
    defaults = train.TrainConfig()
    parser.add_argument('--epochs', type=int, default=defaults.epochs)
    parser.add_argument('--batch-clips', type=int, default=defaults.batch_clips)
    parser.add_argument('--learning-rate', type=float, default=defaults.learning_rate)
    parser.add_argument('--patience', type=int, default=defaults.patience)
    parser.add_argument('--max-minutes', type=float, default=defaults.max_minutes)
    parser.add_argument('--seed', type=int, default=defaults.seed)
    parser.add_argument('--threads', type=int, default=1,
                        help='torch CPU threads (1 is fastest on a shared 2-core machine)')
    args = parser.parse_args(argv)
    if args.lookahead_ms < 0 or args.lookahead_ms % 10:
        parser.error('--lookahead-ms must be a non-negative multiple of 10')
    if args.epochs < 1 or args.batch_clips < 1 or args.channels < 1 or args.threads < 1:
        parser.error('--epochs, --batch-clips, --channels and --threads must be >= 1')
    if not args.seal_weight >= 0 or not args.open_weight >= 0:
        parser.error('--seal-weight and --open-weight must be >= 0 (0: off)')
    if args.augment_variants < 0:
        parser.error('--augment-variants must be >= 0 (0: no augmented copies)')
    import torch

    torch.set_num_threads(args.threads)
    model_config = LipModelConfig(channels=args.channels, n_coefficients=args.coefficients,
                                  lookahead_frames=args.lookahead_ms // 10)
    train_config = train.TrainConfig(epochs=args.epochs, batch_clips=args.batch_clips,
                                     learning_rate=args.learning_rate, patience=args.patience,
                                     max_minutes=args.max_minutes, seed=args.seed,
                                     augment=not args.no_augment,
                                     augment_variants=args.augment_variants,
                                     seal_weight=args.seal_weight,
                                     open_weight=args.open_weight)
    try:
        summary = train.train(args.corpora, args.out, model_config, train_config,
                              exclude_languages=args.exclude_languages,
                              exclude_voices=args.exclude_voices)
    except (corpus.CorpusError, train.TrainingError) as error:
        print(f'lip-train: error: {error}', file=sys.stderr)
        return 2
    print(json.dumps({k: summary[k] for k in ('train_clips', 'validation_clips',
                                              'best_validation_loss', 'epochs_run',
                                              'minutes')} | {'out': args.out}))
    return 0


def eval_main(argv=None):
    from lip_policy import evaluate
    from lip_policy.predictor import CheckpointError

    parser = argparse.ArgumentParser(prog='lip-eval', description=(
        'Score a lip model against the amplitude and recognised-viseme baselines.'))
    parser.add_argument('--model', required=True, help='checkpoint (.pt)')
    parser.add_argument('--corpus', required=True, help='corpus directory')
    parser.add_argument('--languages', type=_languages, default=None,
                        help='only these languages (e.g. the held-out list)')
    parser.add_argument('--voices', type=_languages, default=None,
                        help='only these voices (e.g. held-out festival voices)')
    parser.add_argument('--by', choices=('voice', 'engine', 'language'), default=None,
                        help='also print model and baselines per voice, engine or language')
    parser.add_argument('--condition', default=None,
                        help='degrade every clip first: noise20, noise10, reverb, telephone '
                             '(augment.CONDITIONS)')
    parser.add_argument('--json', default=None, help='also write the full report here')
    parser.add_argument('--plots', default=None,
                        help='directory for mouth-opening plots (default: next to --json)')
    args = parser.parse_args(argv)
    from lip_policy import augment

    if args.condition and args.condition not in augment.CONDITIONS:
        parser.error(f'--condition must be one of {", ".join(augment.CONDITIONS)}')
    try:
        report = evaluate.evaluate(args.model, args.corpus, languages=args.languages,
                                   json_path=args.json, plot_dir=args.plots,
                                   voices=args.voices, condition=args.condition, by=args.by)
    except (corpus.CorpusError, CheckpointError) as error:
        print(f'lip-eval: error: {error}', file=sys.stderr)
        return 2
    if args.by:
        print(evaluate.format_by_table(report[f'by_{args.by}'], args.by))
    print(json.dumps(report['overall']))
    return 0
