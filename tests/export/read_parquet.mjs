// Reads a parquet file with hyparquet (an independent reader from npm) and prints
// {num_rows, row_groups, columns: [path...], rows: [...]} as JSON on stdout.
// usage: node read_parquet.mjs FILE HYPARQUET_DIR
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

const [file, hyparquetDir] = process.argv.slice(2)
const { parquetMetadata, parquetReadObjects } = await import(pathToFileURL(hyparquetDir + '/src/index.js'))
const bytes = readFileSync(file)
const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
const meta = parquetMetadata(buffer)
const rows = await parquetReadObjects({ file: buffer })
const columns = meta.row_groups.length ? meta.row_groups[0].columns.map(c => c.meta_data.path_in_schema.join('.')) : []
const out = {
  num_rows: Number(meta.num_rows),
  row_groups: meta.row_groups.length,
  rows_per_group: meta.row_groups.map(g => Number(g.num_rows)),
  schema: meta.schema.map(s => s.name),
  columns,
  rows,
}
// Keys of absent values stay (as null); int64 beyond 2^53 become strings, exact.
const plain = (_, v) => {
  if (v === undefined) return null
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()
  return v
}
process.stdout.write(JSON.stringify(out, plain))
