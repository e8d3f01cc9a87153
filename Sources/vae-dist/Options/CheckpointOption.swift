import ArgumentParser

/// `--checkpoint`: the trained model a command starts from (eval, embed, the pictures).
struct CheckpointOption: ParsableArguments {
    @Option(help: ArgumentHelp("A checkpoint file, or a run directory (its newest checkpoint-epoch-*.h5).",
                               valueName: "path|run-dir"))
    var checkpoint: String
}
