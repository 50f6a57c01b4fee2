// Part 3 of the simulator campaign run by `npm test`: seeds 1001..1500 on the production member and client.
// (Four files, so node's test runner spreads the 2,000 seeds over the cores.)
import { it } from 'node:test';
import { assertSeedsPass } from './campaign-assert.js';

it('simulated clusters of production members stay safe, live, linearizable and exactly-once for seeds 1001..1500', async () => {
  await assertSeedsPass(1001, 500);
});
