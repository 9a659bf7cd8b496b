// The actor suite (actors.mjs) with the host's own client over HTTP.
import { actorSuite } from "./actors.mjs";

actorSuite("HTTP");
