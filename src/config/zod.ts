// The zod every config schema is written with: zod/mini, the functional API (z.optional(x),
// x.check(z.int()), z.describe(...) as a check). The classic API (`import { z } from "zod"`) builds
// each schema node with many more methods and runs more code while the schemas are constructed; the
// same schemas cost ~2 MB more RSS (anonymous memory) in the idle gateway that way.
//
// zod/mini leaves the default error messages unset ("Invalid input"); classic installs the English
// ones, and `tb-gw validate`, remote configuration and the Modbus connection RPC show them. So they
// are installed here, before any schema module uses z.

import { z } from "zod/mini";
import en from "zod/v4/locales/en.js";

z.config(en());

export { z };
