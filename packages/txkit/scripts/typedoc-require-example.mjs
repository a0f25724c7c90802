// @ts-check
import { Converter, ReflectionKind } from 'typedoc';

/**
 * TypeDoc plugin: warns about every public export (a direct child of an entry point) whose documentation has no
 * description or no `@example`. Our standard is a description and a short example for each; TypeDoc's own
 * `notDocumented` validation only checks the description. typedoc.jsonc treats warnings as errors, so each one
 * fails `npm run docs` and `npm run docs:check`.
 *
 * @param {import('typedoc').Application} app
 */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_END, (context) => {
    const kinds =
      ReflectionKind.Class |
      ReflectionKind.Interface |
      ReflectionKind.Function |
      ReflectionKind.TypeAlias |
      ReflectionKind.Variable;
    let missing = 0;
    for (const reflection of context.project.getReflectionsByKind(kinds)) {
      if (!reflection.parent?.kindOf(ReflectionKind.Module)) continue;
      const signatures = 'signatures' in reflection ? /** @type {any[]} */ (reflection.signatures ?? []) : [];
      const comments = [reflection.comment, ...signatures.map((s) => s.comment)].filter(Boolean);
      const described = comments.some((c) => c.summary.some((part) => part.text.trim() !== ''));
      const example = comments.some((c) => c.blockTags.some((tag) => tag.tag === '@example'));
      if (described && example) continue;
      missing++;
      const what = [described ? '' : 'a description', example ? '' : 'an @example']
        .filter(Boolean)
        .join(' and ');
      app.logger.warn(`${reflection.getFullName()} (public export) lacks ${what}`);
    }
    app.logger.info(`@example check: ${missing} public export(s) without a description or an example`);
  });
}
