import { expect, test } from "bun:test";
import { compileRoute, matchRoute, requestTarget } from "./routes.ts";

test("requestTarget gives what new URL() gives for the path and the query, plain or not", () => {
  const hrefs = [
    "http://127.0.0.1:5000/data/dev-17",
    "http://127.0.0.1:5000/",
    "http://127.0.0.1:5000/data/dev%201?x=1&y=%C3%A9+z",
    "http://127.0.0.1:5000/a/../b",
    "http://127.0.0.1:5000/a/%2e%2E/b",
    "http://127.0.0.1:5000/a/./b?",
    "http://127.0.0.1:5000/a b/é?q=é 1",
    "http://127.0.0.1:5000/a\\b",
    "http://127.0.0.1:5000/a?x=1#frag",
    "https://[::1]:8443/x/{y}?a=%zz",
    "http://localhost/.hidden/x",
    "http://localhost/a/b.json?x=a?b",
  ];
  for (const href of hrefs) {
    const url = new URL(href);
    const t = requestTarget(href);
    expect({ href, pathname: t.pathname, query: [...new URLSearchParams(t.search)] }).toEqual({ href, pathname: url.pathname, query: [...url.searchParams] });
  }
});

test("path parameters are percent-decoded, and kept as they came when not valid percent-encoding", () => {
  const routes = [compileRoute("/dev/{name}/{rest}", ["POST"], "t")];
  const m = matchRoute(routes, "POST", "/dev/a%20b/%zz");
  expect(m && "params" in m ? m.params : undefined).toEqual({ name: "a b", rest: "%zz" });
});
