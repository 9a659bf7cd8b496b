// The actor suite (actors.mjs) with the host's own client over GRPC.
import { actorSuite } from "./actors.mjs";

actorSuite("GRPC");
