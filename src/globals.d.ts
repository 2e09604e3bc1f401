/** The package version, replaced at build time (tsup `define`, vitest `define`). */
declare const __EXPFLOW_VERSION__: string;
