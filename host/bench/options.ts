// What every benchmark suite is given (its own file so suites and the runner that lists them do
// not import each other).
export interface BenchOptions { json: boolean; quick: boolean; report?: boolean; out?: string }
