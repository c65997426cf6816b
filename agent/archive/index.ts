/** Snapshot archives: create (tar + parallel bzip2 / xz), safe extraction, streaming checksums. */
export { createArchive, type ArchivedFile, type CreateArchiveOptions, type CreateArchiveResult } from './create';
export { extractArchive, sniffCompression, type ExtractArchiveOptions, type ExtractArchiveResult } from './extract';
export { sha256File, HashingPassThrough } from './checksum';
export { bzip2Argv, defaultThreads, hasProgram, type Bzip2Program, type Compression } from './tools';
