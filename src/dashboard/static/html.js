// htm bound to preact's h: the page's templates (escaped text, no innerHTML).
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);
