// TEMPORARY while the Pareto branch lands: the JSON of a ranking moves here from the CLI.
export { compareScoresJson as rankingJson } from "../cli/commands/compare-scores.js";
