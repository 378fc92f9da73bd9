import assert from "node:assert/strict";
import { generationRequest, parseGeneration } from "./nftables_generation.ts";
import { NetlinkParseError, NLMSG_ERROR, parseMessages } from "./message.ts";

// Read when the module loads, so the tests themselves run without permissions. Captured in a
// namespace after two `iptables -N` (generation 3): the NEWGEN reply, then the ACK.
const REPLY = Deno.readFileSync(new URL("./testdata/nft_getgen_reply.bin", import.meta.url));

Deno.test({
  name: "the generation request is NFT_MSG_GETGEN of subsystem 10 with an empty nfgenmsg",
  permissions: "none",
  fn() {
    const request = generationRequest();
    assert.equal(request.type, (10 << 8) | 16);
    assert.equal(request.flags, 0);
    assert.deepEqual(request.payload, new Uint8Array(4));
  },
});

Deno.test({
  name: "the kernel's NEWGEN reply reads as its generation, and its ACK follows it",
  permissions: "none",
  fn() {
    const [reply, ack] = parseMessages(REPLY);
    assert.equal(parseGeneration(reply), 3);
    assert.equal(ack.type, NLMSG_ERROR);
  },
});

Deno.test({
  name: "a message that is not NEWGEN, or a NEWGEN without its id, is refused by name",
  permissions: "none",
  fn() {
    const [reply, ack] = parseMessages(REPLY);
    assert.throws(() => parseGeneration(ack), NetlinkParseError);
    const noId = { ...reply, payload: reply.payload.subarray(0, 4) };
    assert.throws(() => parseGeneration(noId), /without NFTA_GEN_ID/);
  },
});
