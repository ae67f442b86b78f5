/**
 * @module The LLM judge: a teacher model (any OpenAI-compatible server, through `TeacherClient`) rates an
 * answer from 0 to 10 against the request and, when there is one, a reference answer; the reward is the
 * score / 10. The instructions are in Thai, so the judge weighs the answer as a Thai reader would. The first
 * number from 0 to 10 in the reply is the score (Thai digits read as Arabic ones); a reply with none gives no
 * score, and the caller decides what that is worth.
 */
import type { TeacherClient } from "@sovereign/teacher";
import { thaiDigitsToArabic } from "@sovereign/thai";

export const JUDGE_SYSTEM_PROMPT_TH =
  "คุณเป็นผู้ประเมินคุณภาพคำตอบ ให้คะแนนคำตอบต่อคำขอของผู้ใช้ตั้งแต่ 0 ถึง 10 " +
  "โดยพิจารณาความถูกต้อง ความครบถ้วน และการใช้ภาษาไทยอย่างเป็นธรรมชาติ " +
  "หากมีคำตอบอ้างอิง ให้ใช้เป็นเกณฑ์ตัดสินความถูกต้อง " +
  "ตอบเป็นตัวเลขเพียงตัวเดียวเท่านั้น ไม่ต้องอธิบาย";

export type JudgeOptions = {
  client: TeacherClient;
  /** Reply length the judge is allowed; a number needs few tokens. Default 16. */
  maxTokens?: number;
};

export type JudgeVerdict = { score: number | null; reply: string };

export type Judge = (
  prompt: readonly { role: string; content: string | null }[],
  answer: string,
  reference: string,
) => Promise<JudgeVerdict>;

export function judgeRequest(
  prompt: readonly { content: string | null }[],
  answer: string,
  reference: string,
): string {
  const request = prompt.map((m) => m.content ?? "").join("\n\n");
  const ref = reference.trim() ? `\n\nคำตอบอ้างอิง:\n${reference.trim()}` : "";
  return `คำขอของผู้ใช้:\n${request}${ref}\n\nคำตอบที่ต้องประเมิน:\n${answer}`;
}

export function parseJudgeScore(reply: string): number | null {
  for (const match of thaiDigitsToArabic(reply).matchAll(/\d+(?:\.\d+)?/g)) {
    const value = Number(match[0]);
    if (value >= 0 && value <= 10) return value;
  }
  return null;
}

export function makeJudge(options: JudgeOptions): Judge {
  return async (prompt, answer, reference) => {
    const result = await options.client.complete({
      messages: [
        { role: "system", content: JUDGE_SYSTEM_PROMPT_TH },
        { role: "user", content: judgeRequest(prompt, answer, reference) },
      ],
      n: 1,
      temperature: 0,
      max_tokens: options.maxTokens ?? 16,
    });
    const reply = result.choices[0]?.text ?? "";
    return { score: parseJudgeScore(reply), reply };
  };
}
