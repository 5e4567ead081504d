// Node's socket classes are function constructors: net.Socket(), net.Server(), dgram.Socket() and
// http.Agent() work without `new`. The faces' classes are made callable the same way.

/** `C`, also callable without `new` (a call constructs). `instanceof` and subclassing still work. */
export function callable<T extends new (...a: never[]) => object>(C: T): T {
  return new Proxy(C, { apply: (target, _this, args) => Reflect.construct(target, args) });
}
