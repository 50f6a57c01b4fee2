// Part 1 of the simulator campaign run by `npm test`: seeds 1..550.
// (Four files, so node's test runner spreads the 2,200 seeds over the cores.)
import { it } from 'node:test';
import { assertSeedsPass } from './campaign-assert.js';

it('simulated clusters stay safe, live and linearizable for seeds 1..550', async () => {
  await assertSeedsPass(1, 550);
});
